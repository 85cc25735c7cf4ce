// View changes on logs larger than one message may carry (more than kMaxMessageBytes bytes,
// more than kMaxEntriesPerMessage entries), and with replicas far behind the commit point:
// DoViewChange and StartView carry bounded suffixes, the new primary fetches the chosen log,
// and a lagging backup fetches before it claims the view. Real bounds throughout; every
// encoded message is checked against them.
#include <cstdio>

#include <gtest/gtest.h>

#include "sim_cluster.h"

namespace wave::kv::repl {
namespace {

using sim::Cluster;
using sim::ElectAnotherPrimary;

// What one bounded message may hold: a transfer's entries and bytes, plus one op over the byte
// bound (the first entry always goes), plus the per-entry and header overhead.
constexpr size_t kTransferMessageBound =
    kMaxTransferBytes + kMaxOpBytes + 20 * size_t{kMaxTransferEntries} + 64;

MsgType TypeOfPacket(const sim::Packet& p) {
  return static_cast<MsgType>(p.bytes[6]);
}

// Submits `count` ops of `bytes` bytes each to replica `to`, delivering every `batch` ops.
void SubmitMany(Cluster& c, uint32_t to, uint64_t& token, uint64_t count, size_t bytes,
                uint64_t batch) {
  for (uint64_t i = 0; i < count; ++i) {
    ASSERT_EQ(c.submit_sized(to, ++token, bytes), Status::kOk);
    if (i % batch == batch - 1) {
      c.replica(to).flush();
      c.deliver_all();
    }
  }
  c.replica(to).flush();
  c.deliver_all();
}

// After the faults: every running replica applied the same ops, and each acknowledged op once.
void ExpectAgreementAndNothingLost(Cluster& c) {
  const std::vector<std::string>& log0 = c.applied(0);
  std::map<std::string, int> count;
  for (const std::string& op : log0)
    ++count[op];
  for (uint32_t i = 1; i < c.n(); ++i)
    EXPECT_TRUE(c.applied(i) == log0) << "replica " << i << " applied other ops";
  for (const auto& [token, op] : c.acknowledged())
    EXPECT_EQ(count[op], 1) << "acknowledged op " << token;
  for (uint32_t i = 0; i < c.n(); ++i)
    EXPECT_EQ(c.replica(i).stats().dropped_bad, 0u) << "replica " << i;
}

void ExpectMessagesWithinBounds(const Cluster& c) {
  std::printf("largest sent: any %zu, DoViewChange %zu, StartView %zu, NewState %zu bytes\n",
              c.max_sent_bytes(), c.max_sent_bytes(MsgType::kDoViewChange),
              c.max_sent_bytes(MsgType::kStartView), c.max_sent_bytes(MsgType::kNewState));
  EXPECT_LE(c.max_sent_bytes(), kMaxMessageBytes);
  EXPECT_LE(c.max_sent_bytes(MsgType::kDoViewChange), kTransferMessageBound);
  EXPECT_LE(c.max_sent_bytes(MsgType::kStartView), kTransferMessageBound);
  EXPECT_LE(c.max_sent_bytes(MsgType::kNewState), kTransferMessageBound);
  EXPECT_LE(c.max_sent_bytes(MsgType::kRecoveryResponse), kTransferMessageBound);
}

// 76 ops of 1 MiB: a log of more bytes than one message may hold. The next primary (1) was cut
// off for most of it, so the chosen log is 2's, and 1 has to fetch it in chunks.
TEST(ReplLargeLog, AViewChangeOverALogOfMoreThanOneMessageOfBytesCompletes) {
  Cluster c(3, Cluster::Logs::kMemory);
  uint64_t token = 0;
  SubmitMany(c, 0, token, 10, 1000, 5);
  c.cut(0, 1);
  SubmitMany(c, 0, token, 66, kMaxOpBytes, 4);
  ASSERT_EQ(c.acknowledged().size(), 76u);
  uint64_t log_bytes = 0;
  for (uint64_t op = 1; op <= c.log(2).last_op(); ++op)
    log_bytes += c.log(2).read(op)->op.size();
  ASSERT_GT(log_bytes, kMaxMessageBytes);
  ASSERT_LE(c.log(1).last_op(), 10u);

  c.stop(0);
  c.heal();
  ASSERT_EQ(ElectAnotherPrimary(c, 0), 1) << c.describe();
  EXPECT_GE(c.replica(1).stats().view_change_fetches, 10u);
  EXPECT_EQ(c.replica(1).last_op(), 76u);
  ASSERT_EQ(c.submit(1, ++token), Status::kOk);
  ASSERT_TRUE(c.settle()) << c.describe();
  c.start(0);
  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_EQ(c.applied(0).size(), 77u);
  ExpectAgreementAndNothingLost(c);
  ExpectMessagesWithinBounds(c);
}

// More entries than one message may carry (kMaxEntriesPerMessage). The next primary (1) misses
// the last few thousand: it fetches them from 2, whose DoViewChange carries only the first
// kMaxTransferEntries after its commit number.
TEST(ReplLargeLog, AViewChangeOverALogOfMoreThanOneMessageOfEntriesCompletes) {
  Cluster c(3, Cluster::Logs::kMemory);
  uint64_t token = 0;
  SubmitMany(c, 0, token, kMaxEntriesPerMessage + 1000, 8, 4096);
  c.cut(0, 1);
  SubmitMany(c, 0, token, 5000, 8, 500);
  const uint64_t total = kMaxEntriesPerMessage + 6000;
  ASSERT_EQ(c.acknowledged().size(), total);
  ASSERT_EQ(c.log(2).last_op(), total);

  c.stop(0);
  c.heal();
  ASSERT_EQ(ElectAnotherPrimary(c, 0), 1) << c.describe();
  EXPECT_GE(c.replica(1).stats().view_change_fetches, 4u);
  ASSERT_TRUE(c.settle()) << c.describe();
  c.start(0);
  ASSERT_TRUE(c.settle()) << c.describe();
  ASSERT_EQ(c.submit(static_cast<uint32_t>(c.primary()), ++token), Status::kOk);
  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_EQ(c.applied(0).size(), total + 1);
  ExpectAgreementAndNothingLost(c);
  ExpectMessagesWithinBounds(c);
}

// The primary dies while a backup (2) lags thousands of ops behind the commit point. The new
// primary (1) has them all; 2's StartView carries one chunk after 2's commit number, so 2
// fetches the rest in status transfer, and claims the view (its last normal view, on disk)
// only once it holds the view's whole starting log.
TEST(ReplLargeLog, APrimaryCrashWithABackupFarBehindTheCommitPointLosesNothing) {
  Cluster c(3, Cluster::Logs::kFile);
  uint64_t token = 0;
  SubmitMany(c, 0, token, 20, 16, 10);
  c.cut(0, 2);
  SubmitMany(c, 0, token, 3000, 16, 100);
  ASSERT_EQ(c.acknowledged().size(), 3020u);
  ASSERT_LE(c.replica(2).commit_number(), 20u);

  c.stop(0);
  c.heal();
  // Elect 1, but keep 2 from getting anything but its StartView: it must wait in transfer.
  bool start_view_seen = false;
  for (int round = 0; round < 500 && !start_view_seen; ++round) {
    c.tick_all();
    for (size_t i = 0; i < c.network().size();) {
      const sim::Packet& p = c.network()[i];
      if (p.to == 2 && TypeOfPacket(p) == MsgType::kNewState) {
        c.network().erase(c.network().begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      start_view_seen |= p.to == 2 && TypeOfPacket(p) == MsgType::kStartView;
      c.deliver(i);
    }
  }
  ASSERT_TRUE(start_view_seen);
  EXPECT_EQ(c.primary(), 1);
  EXPECT_EQ(c.replica(2).status(), ReplicaStatus::kTransfer) << c.describe();
  EXPECT_EQ(c.log(2).metadata().last_normal_view, 0u);  // not claiming view 1 yet
  EXPECT_LE(c.log(2).last_op(), 20u);                   // nothing installed yet

  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_EQ(c.log(2).metadata().last_normal_view, 1u);
  EXPECT_GE(c.replica(2).stats().state_transfers, 2u);
  c.start(0);
  ASSERT_EQ(c.submit(1, ++token), Status::kOk);
  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_EQ(c.applied(2).size(), 3021u);
  ExpectAgreementAndNothingLost(c);
  ExpectMessagesWithinBounds(c);
}

// Five replicas; 4 lags far behind and its DoViewChange never reaches the new primary, which
// so does not know 4's commit number: the StartView starts at the lowest one it heard, beyond
// 4's, and 4 must fetch from its own commit number rather than guess.
TEST(ReplLargeLog, AStartViewBeyondTheRecipientsCommitNumberMakesItFetch) {
  Cluster c(5, Cluster::Logs::kMemory);
  uint64_t token = 0;
  SubmitMany(c, 0, token, 10, 16, 5);
  c.cut(0, 4);
  SubmitMany(c, 0, token, 2500, 16, 100);
  ASSERT_EQ(c.acknowledged().size(), 2510u);
  c.stop(0);
  c.heal();
  for (int round = 0; round < 500 && c.primary() < 0; ++round) {
    c.tick_all();
    for (size_t i = 0; i < c.network().size();) {
      const sim::Packet& p = c.network()[i];
      if (p.from == 4 && TypeOfPacket(p) == MsgType::kDoViewChange) {
        c.network().erase(c.network().begin() + static_cast<std::ptrdiff_t>(i));
        continue;
      }
      c.deliver(i);
    }
  }
  ASSERT_EQ(c.primary(), 1) << c.describe();
  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_GE(c.replica(4).stats().state_transfers, 3u);
  c.start(0);
  ASSERT_TRUE(c.settle()) << c.describe();
  EXPECT_EQ(c.applied(4).size(), 2510u);
  ExpectAgreementAndNothingLost(c);
  ExpectMessagesWithinBounds(c);
}

// Suffixes whose numbers contradict each other are refused as bad, and change nothing.
TEST(ReplLargeLog, SelfContradictorySuffixesAreDroppedAsBad) {
  Cluster c(3, Cluster::Logs::kMemory);
  uint64_t token = 0;
  SubmitMany(c, 0, token, 5, 8, 5);
  ASSERT_TRUE(c.settle());
  auto e = [](uint64_t view, uint64_t op) { return Entry{.view = view, .op_number = op}; };
  // DoViewChanges for view 3 (primary 0), from 1.
  const std::vector<DoViewChange> dvcs = {
      {.view = 3, .last_normal_view = 0, .op_number = 4, .commit_number = 5, .replica = 1},
      {.view = 3,  // entries must start after the commit number
       .last_normal_view = 0,
       .op_number = 5,
       .commit_number = 3,
       .replica = 1,
       .entries = {e(0, 3), e(0, 4)}},
      {.view = 3,  // more entries than ops after the commit number
       .last_normal_view = 0,
       .op_number = 4,
       .commit_number = 3,
       .replica = 1,
       .entries = {e(0, 4), e(0, 5)}},
      {.view = 3,  // views going back
       .last_normal_view = 2,
       .op_number = 5,
       .commit_number = 3,
       .replica = 1,
       .entries = {e(2, 4), e(1, 5)}},
      {.view = 3,  // an entry of a view newer than the sender's last normal one
       .last_normal_view = 1,
       .op_number = 5,
       .commit_number = 3,
       .replica = 1,
       .entries = {e(1, 4), e(2, 5)}},
  };
  // StartViews of view 4 (primary 1), from 1.
  const std::vector<StartView> svs = {
      {.view = 4, .op_number = 3, .commit_number = 2, .from_op = 4},
      {.view = 4, .op_number = 6, .commit_number = 2, .from_op = 2, .entries = {e(0, 4)}},
      {.view = 4, .op_number = 4, .commit_number = 2, .from_op = 3, .entries = {e(0, 4), e(0, 5)}},
      {.view = 4, .op_number = 6, .commit_number = 2, .from_op = 3, .entries = {e(5, 4)}},
      {.view = 4, .op_number = 6, .commit_number = 7, .from_op = 5, .entries = {e(0, 6)}},
  };
  const uint64_t view = c.replica(0).view();
  uint64_t bad = c.replica(0).stats().dropped_bad;
  for (const DoViewChange& m : dvcs) {
    c.replica(0).receive(1, Encode(m));
    EXPECT_EQ(c.replica(0).stats().dropped_bad, ++bad);
  }
  for (const StartView& m : svs) {
    c.replica(0).receive(1, Encode(m));
    EXPECT_EQ(c.replica(0).stats().dropped_bad, ++bad);
  }
  EXPECT_EQ(c.replica(0).view(), view);
  EXPECT_TRUE(c.replica(0).is_primary());
  EXPECT_EQ(c.replica(0).last_op(), 5u);
}

}  // namespace
}  // namespace wave::kv::repl
