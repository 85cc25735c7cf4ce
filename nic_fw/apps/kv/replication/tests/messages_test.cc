// The codec: every message survives Encode/Decode unchanged, and bytes that are not exactly one
// canonical encoding (truncated, padded, mislabelled, lying about a length or count, random) are
// refused without a crash and without an allocation larger than the input justifies.

// To measure allocations this file replaces operator new with malloc and operator delete with
// free. Not under a sanitizer, which owns operator new; and GCC, seeing std::allocator's new
// paired with our free, would warn of a mismatch that is not one.
#if defined(__SANITIZE_ADDRESS__)
#define REPL_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define REPL_SANITIZED 1
#endif
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif

#include <cstdlib>
#include <new>
#include <random>

#include <gtest/gtest.h>

#include "kv/replication/messages.h"

namespace wave::kv::repl {
namespace {

// The largest single allocation, to show a lying count allocates nothing big.
#if !defined(REPL_SANITIZED)
size_t g_largest_allocation = 0;
#define REPL_TRACKS_ALLOCATIONS 1
#endif

}  // namespace
}  // namespace wave::kv::repl

#if defined(REPL_TRACKS_ALLOCATIONS)
void* operator new(size_t n) {
  if (n > wave::kv::repl::g_largest_allocation)
    wave::kv::repl::g_largest_allocation = n;
  if (void* p = std::malloc(n == 0 ? 1 : n))
    return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, size_t) noexcept {
  std::free(p);
}
#endif

namespace wave::kv::repl {
namespace {

std::vector<std::byte> Bytes(std::string_view s) {
  std::vector<std::byte> out;
  for (char c : s)
    out.push_back(static_cast<std::byte>(c));
  return out;
}

Entry E(uint64_t view, uint64_t op, std::string_view bytes) {
  return Entry{.view = view, .op_number = op, .op = Bytes(bytes)};
}

// One message of every type, with no field left at its default.
std::vector<Message> Samples() {
  std::vector<Entry> log = {E(1, 1, "set a"), E(1, 2, ""), E(3, 3, "set b 0 0 1\r\nx\r\n")};
  return {
      Prepare{.view = 3, .commit_number = 2, .entry = E(3, 4, "op four")},
      PrepareOk{.view = 3, .op_number = 4, .replica = 2},
      Commit{.view = 7, .commit_number = 1234567890123ull},
      StartViewChange{.view = 8, .replica = 1},
      DoViewChange{.view = 8,
                   .last_normal_view = 3,
                   .op_number = 3,
                   .commit_number = 2,
                   .replica = 1,
                   .entries = log},
      StartView{.view = 8,
                .op_number = 3,
                .commit_number = 2,
                .from_op = 1,
                .entries = {E(1, 2, ""), E(3, 3, "set b 0 0 1\r\nx\r\n")}},
      Recovery{.replica = 2, .nonce = 0xfeedface12345678ull, .commit_number = 9},
      RecoveryResponse{.view = 8,
                       .nonce = 5,
                       .replica = 2,
                       .is_primary = true,
                       .op_number = 3,
                       .commit_number = 2,
                       .from_op = 0,
                       .entries = log},
      GetState{.view = 8, .op_number = 1, .replica = 0},
      NewState{.view = 8,
               .from_op = 1,
               .op_number = 3,
               .commit_number = 3,
               .entries = {E(1, 2, ""), E(3, 3, "z")}},
  };
}

void PatchBodyLength(std::vector<std::byte>& b) {
  uint32_t len = static_cast<uint32_t>(b.size() - kHeaderBytes);
  for (int i = 0; i < 4; ++i)
    b[8 + i] = static_cast<std::byte>(len >> (8 * i));
}

void PutU32(std::vector<std::byte>& b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i)
    b[at + i] = static_cast<std::byte>(v >> (8 * i));
}

TEST(ReplMessages, EveryTypeRoundTrips) {
  std::vector<Message> samples = Samples();
  ASSERT_EQ(samples.size(), kMsgTypeCount - 1);
  for (const Message& m : samples) {
    SCOPED_TRACE(MsgTypeName(TypeOf(m)));
    std::vector<std::byte> bytes = Encode(m);
    ASSERT_FALSE(bytes.empty());
    Message back;
    ASSERT_EQ(Decode(bytes, &back), Status::kOk);
    EXPECT_EQ(TypeOf(back), TypeOf(m));
    // Integers are fixed width and nothing is optional, so equal encodings are equal messages.
    EXPECT_EQ(Encode(back), bytes);
  }
  // And a few fields read back by name, so a codec that drops a field both ways still fails.
  Message back;
  ASSERT_EQ(Decode(Encode(samples[4]), &back), Status::kOk);
  const auto& dvc = std::get<DoViewChange>(back);
  EXPECT_EQ(dvc.view, 8u);
  EXPECT_EQ(dvc.last_normal_view, 3u);
  EXPECT_EQ(dvc.commit_number, 2u);
  EXPECT_EQ(dvc.replica, 1u);
  ASSERT_EQ(dvc.entries.size(), 3u);
  EXPECT_EQ(dvc.entries[2], E(3, 3, "set b 0 0 1\r\nx\r\n"));
  ASSERT_EQ(Decode(Encode(samples[7]), &back), Status::kOk);
  EXPECT_TRUE(std::get<RecoveryResponse>(back).is_primary);
  EXPECT_EQ(std::get<RecoveryResponse>(back).nonce, 5u);
  ASSERT_EQ(Decode(Encode(samples[5]), &back), Status::kOk);
  EXPECT_EQ(std::get<StartView>(back).from_op, 1u);
  ASSERT_EQ(std::get<StartView>(back).entries.size(), 2u);
  EXPECT_EQ(std::get<StartView>(back).entries[0], E(1, 2, ""));
}

TEST(ReplMessages, HeaderIsAsDocumented) {
  std::vector<std::byte> b = Encode(Commit{.view = 1, .commit_number = 2});
  ASSERT_EQ(b.size(), kHeaderBytes + 16);
  EXPECT_EQ(b[0], std::byte{'W'});
  EXPECT_EQ(b[1], std::byte{'V'});
  EXPECT_EQ(b[2], std::byte{'R'});
  EXPECT_EQ(b[3], std::byte{'1'});
  EXPECT_EQ(b[4], std::byte{kVersion});
  EXPECT_EQ(b[6], std::byte{static_cast<uint8_t>(MsgType::kCommit)});
  EXPECT_EQ(b[8], std::byte{16});
  EXPECT_EQ(b[12], std::byte{1});  // view, little-endian
}

TEST(ReplMessages, EveryTruncationIsRefused) {
  for (const Message& m : Samples()) {
    SCOPED_TRACE(MsgTypeName(TypeOf(m)));
    const std::vector<std::byte> full = Encode(m);
    for (size_t len = 0; len < full.size(); ++len) {
      std::vector<std::byte> cut(full.begin(), full.begin() + len);
      Message out = Commit{};
      EXPECT_NE(Decode(cut, &out), Status::kOk) << "length " << len;
      EXPECT_EQ(out.index(), 0u);
      // The same prefix with a header that agrees with it: the body parser must notice.
      if (len > kHeaderBytes) {
        PatchBodyLength(cut);
        EXPECT_NE(Decode(cut, &out), Status::kOk) << "patched length " << len;
        EXPECT_EQ(out.index(), 0u);
      }
    }
  }
}

TEST(ReplMessages, TrailingBytesAndWrongLengthsAreRefused) {
  for (const Message& m : Samples()) {
    SCOPED_TRACE(MsgTypeName(TypeOf(m)));
    std::vector<std::byte> b = Encode(m);
    Message out;
    std::vector<std::byte> padded = b;
    padded.push_back(std::byte{0});
    EXPECT_EQ(Decode(padded, &out), Status::kBadMessage);  // header length disagrees
    PatchBodyLength(padded);
    EXPECT_EQ(Decode(padded, &out), Status::kBadMessage);  // one byte nobody reads
    std::vector<std::byte> shorter = b;
    PutU32(shorter, 8, static_cast<uint32_t>(b.size() - kHeaderBytes - 1));
    EXPECT_EQ(Decode(shorter, &out), Status::kBadMessage);
    PutU32(shorter, 8, 0xffffffffu);
    EXPECT_EQ(Decode(shorter, &out), Status::kBadMessage);
  }
}

TEST(ReplMessages, BadHeaderFieldsAreRefused) {
  const std::vector<std::byte> good = Encode(PrepareOk{.view = 1, .op_number = 2, .replica = 0});
  Message out;
  ASSERT_EQ(Decode(good, &out), Status::kOk);
  for (size_t at : {0u, 3u}) {  // magic
    auto b = good;
    b[at] ^= std::byte{0x20};
    EXPECT_EQ(Decode(b, &out), Status::kBadMessage);
  }
  auto b = good;
  b[4] = std::byte{kVersion + 1};
  EXPECT_EQ(Decode(b, &out), Status::kBadMessage);
  for (uint8_t type : {uint8_t{0}, uint8_t{kMsgTypeCount}, uint8_t{0xff}}) {
    b = good;
    b[6] = std::byte{type};
    EXPECT_EQ(Decode(b, &out), Status::kBadMessage) << int{type};
  }
  b = good;
  b[7] = std::byte{1};  // reserved
  EXPECT_EQ(Decode(b, &out), Status::kBadMessage);
  // A PrepareOk body relabelled as a Commit is 4 bytes too long for it.
  b = good;
  b[6] = std::byte{static_cast<uint8_t>(MsgType::kCommit)};
  EXPECT_EQ(Decode(b, &out), Status::kBadMessage);
}

TEST(ReplMessages, SelfContradictoryFieldsAreRefused) {
  Message out;
  // A Prepare whose entry is not of the Prepare's view, or is op 0.
  EXPECT_EQ(Decode(Encode(Prepare{.view = 2, .entry = E(1, 1, "x")}), &out), Status::kBadMessage);
  EXPECT_EQ(Decode(Encode(Prepare{.view = 2, .entry = E(2, 0, "x")}), &out), Status::kBadMessage);
  // A boolean that is neither 0 nor 1.
  std::vector<std::byte> b = Encode(RecoveryResponse{.view = 1, .replica = 1});
  const size_t is_primary_at = kHeaderBytes + 8 + 8 + 4;
  ASSERT_EQ(b[is_primary_at], std::byte{0});
  b[is_primary_at] = std::byte{2};
  EXPECT_EQ(Decode(b, &out), Status::kBadMessage);
}

TEST(ReplMessages, LyingCountsAndLengthsAllocateNothingBig) {
  // A StartView with no entries, whose count field is then made to lie.
  std::vector<std::byte> b = Encode(StartView{.view = 1});
  const size_t count_at = kHeaderBytes + 32;
  ASSERT_EQ(b.size(), count_at + 4);
  Message out;
  for (uint32_t count : {1u, 1000u, kMaxEntriesPerMessage, kMaxEntriesPerMessage + 1, ~0u}) {
    PutU32(b, count_at, count);
#if defined(REPL_TRACKS_ALLOCATIONS)
    g_largest_allocation = 0;
#endif
    Status st = Decode(b, &out);
    EXPECT_EQ(st, count > kMaxEntriesPerMessage ? Status::kTooLarge : Status::kBadMessage) << count;
#if defined(REPL_TRACKS_ALLOCATIONS)
    EXPECT_LT(g_largest_allocation, 4096u) << count;
#endif
  }
  // An op whose length says more than the message holds, or more than any op may be.
  b = Encode(Prepare{.view = 1, .entry = E(1, 1, "abc")});
  const size_t len_at = kHeaderBytes + 16 + 16;
  for (uint32_t len : {4u, 1u << 19, kMaxOpBytes, kMaxOpBytes + 1, ~0u}) {
    PutU32(b, len_at, len);
#if defined(REPL_TRACKS_ALLOCATIONS)
    g_largest_allocation = 0;
#endif
    EXPECT_EQ(Decode(b, &out), len > kMaxOpBytes ? Status::kTooLarge : Status::kBadMessage);
#if defined(REPL_TRACKS_ALLOCATIONS)
    EXPECT_LT(g_largest_allocation, 4096u) << len;
#endif
  }
}

TEST(ReplMessages, EncodeRefusesWhatDecodeWould) {
  std::vector<std::byte> out = Bytes("kept");
  EXPECT_EQ(Encode(Message{}, out), Status::kBadArgument);
  Prepare big{.view = 1, .entry = {.view = 1, .op_number = 1}};
  big.entry.op.resize(kMaxOpBytes + 1);
  EXPECT_EQ(Encode(big, out), Status::kTooLarge);
  EXPECT_EQ(out, Bytes("kept"));
  EXPECT_TRUE(Encode(big).empty());
  big.entry.op.resize(kMaxOpBytes);
  std::vector<std::byte> fits;
  EXPECT_EQ(Encode(big, fits), Status::kOk);
  Message back;
  EXPECT_EQ(Decode(fits, &back), Status::kOk);
  // A whole log over kMaxMessageBytes: 65 ops of 1 MiB.
  StartView sv{.view = 1, .op_number = 65};
  for (uint64_t op = 1; op <= 65; ++op)
    sv.entries.push_back(Entry{.view = 1, .op_number = op, .op = big.entry.op});
  EXPECT_EQ(Encode(sv, out), Status::kTooLarge);
  EXPECT_EQ(out, Bytes("kept"));
  // And Decode refuses a buffer over the bound before reading it.
  std::vector<std::byte> huge(kMaxMessageBytes + 1);
  EXPECT_EQ(Decode(huge, &back), Status::kTooLarge);
}

// Random bytes, and valid encodings with random damage: Decode never crashes, never allocates
// far beyond the input, and whatever it accepts is the one canonical encoding of what it built.
TEST(ReplMessages, SeededGarbageNeverCrashes) {
  std::mt19937_64 rng(20261207);
  const std::vector<Message> samples = Samples();
  size_t accepted = 0;
  for (int round = 0; round < 20000; ++round) {
    std::vector<std::byte> b;
    if (round % 2 == 0) {
      b.resize(rng() % 200);
      for (auto& x : b)
        x = static_cast<std::byte>(rng());
      // A valid header half the time, so the body parsers see the garbage.
      if (b.size() >= kHeaderBytes && rng() % 2 == 0) {
        std::vector<std::byte> h = Encode(Commit{});
        std::copy(h.begin(), h.begin() + 8, b.begin());
        b[6] = static_cast<std::byte>(1 + rng() % (kMsgTypeCount - 1));
        PatchBodyLength(b);
      }
    } else {
      b = Encode(samples[rng() % samples.size()]);
      for (int flips = 1 + rng() % 4; flips > 0; --flips)
        b[rng() % b.size()] ^= static_cast<std::byte>(1 + rng() % 255);
      if (rng() % 4 == 0)
        b.resize(rng() % (b.size() + 1));
    }
#if defined(REPL_TRACKS_ALLOCATIONS)
    g_largest_allocation = 0;
#endif
    Message out;
    Status st = Decode(b, &out);
#if defined(REPL_TRACKS_ALLOCATIONS)
    ASSERT_LE(g_largest_allocation, 4 * b.size() + 1024) << "round " << round;
#endif
    if (st == Status::kOk) {
      ++accepted;
      ASSERT_EQ(Encode(out), b) << "round " << round;
    } else {
      ASSERT_EQ(out.index(), 0u);
      ASSERT_TRUE(st == Status::kBadMessage || st == Status::kTooLarge);
    }
  }
  // Damage to an integer field leaves a valid message: some must have been accepted.
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace wave::kv::repl
