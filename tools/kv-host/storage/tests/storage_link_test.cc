// The storage link in one process: RemoteHostStorage and StorageServer over ShmLink::create
// (memfd). Round trips; garbage from either side refused and counted; a host that stops,
// falls silent or never answers; a restarted host served again.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>

#include "kv/storage/remote_host_storage.h"
#include "local_host_storage.h"
#include "storage_server.h"

namespace wave::kv {
namespace {

namespace fs = std::filesystem;
using rt::mig::FrameHeader;
using rt::mig::FrameType;
using rt::mig::LinkEnd;
using rt::mig::LinkSide;
using rt::mig::ShmLink;
constexpr auto kGenerous = std::chrono::seconds(30);

std::vector<std::byte> Batch(uint32_t shard, uint64_t gen, std::vector<FlushEntry> entries) {
  FlushBatchWriter w({shard, gen, gen, gen});
  for (FlushEntry& e : entries)
    EXPECT_TRUE(w.Add(std::move(e)));
  Result<std::vector<std::byte>> b = w.Encode();
  EXPECT_TRUE(b.ok());
  return b.ok() ? b.value() : std::vector<std::byte>{};
}
FlushEntry Item(std::string k, std::string v) {
  return FlushEntry{std::move(k), std::move(v), 3, 0, 4, false};
}

int FlushSync(HostStorage& h, std::vector<std::byte> batch) {
  std::promise<int> p;
  h.Flush(std::move(batch), [&](Status s) { p.set_value(s ? 0 : s.error().code); });
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  return f.get();
}
std::string LookupSync(HostStorage& h, uint32_t shard, std::string key) {
  std::promise<std::string> p;
  h.Lookup(shard, std::move(key), 1000, [&](Result<std::optional<StoredValue>> r) {
    p.set_value(!r               ? "error " + std::to_string(r.error().code)
                : r->has_value() ? (*r)->value
                                 : "<miss>");
  });
  auto f = p.get_future();
  EXPECT_EQ(f.wait_for(kGenerous), std::future_status::ready);
  return f.get();
}

// The link the client connects to next: tests put a new one in to "restart" the host.
class LinkSlot {
 public:
  void Put(std::unique_ptr<LinkEnd> end) {
    std::lock_guard lock(mu_);
    next_ = std::move(end);
  }
  RemoteHostStorage::Connector Connector() {
    return [this] {
      std::lock_guard lock(mu_);
      return std::move(next_);
    };
  }

 private:
  std::mutex mu_;
  std::unique_ptr<LinkEnd> next_;
};

class StorageLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/wave-slink-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    auto s = LocalHostStorage::Open(dir_);
    ASSERT_TRUE(s.ok());
    storage_ = std::move(s.value());
  }
  void TearDown() override {
    server_.reset();
    storage_.reset();
    fs::remove_all(dir_);
  }
  // A new link with a server on its host end; the client's end goes into the slot.
  void StartServer() {
    link_ = ShmLink::create(kStorageRingBytes);
    ASSERT_TRUE(link_);
    server_ = std::make_unique<StorageServer>(link_->open(LinkSide::kHost), *storage_);
    server_->Start();
    slot_.Put(link_->open(LinkSide::kNic));
  }
  std::unique_ptr<RemoteHostStorage> Client(RemoteHostStorage::Options o = {}) {
    auto c = std::make_unique<RemoteHostStorage>(slot_.Connector(), o);
    EXPECT_TRUE(c->WaitConnected(kGenerous));
    return c;
  }

  std::string dir_;
  std::unique_ptr<LocalHostStorage> storage_;
  std::unique_ptr<ShmLink> link_;
  std::unique_ptr<StorageServer> server_;
  LinkSlot slot_;
};

TEST_F(StorageLinkTest, FlushLookupAndRecoverRoundTrip) {
  StartServer();
  auto c = Client();
  // A batch of several MB (many chunks) and a value of 1 MiB (a reply of many frames).
  std::vector<FlushEntry> items;
  for (int i = 0; i < 40; ++i)
    items.push_back(Item("k" + std::to_string(i), std::string(100000, char('a' + i % 26))));
  items.push_back(Item("big", std::string(WAVE_KV_FLUSH_MAX_VALUE, 'B')));
  ASSERT_EQ(FlushSync(*c, Batch(2, 1, std::move(items))), 0);
  ASSERT_EQ(FlushSync(*c, Batch(2, 2, {Item("k0", "newer")})), 0);
  EXPECT_EQ(LookupSync(*c, 2, "k0"), "newer");
  EXPECT_EQ(LookupSync(*c, 2, "k7"), std::string(100000, 'h'));
  EXPECT_EQ(LookupSync(*c, 2, "big"), std::string(WAVE_KV_FLUSH_MAX_VALUE, 'B'));
  EXPECT_EQ(LookupSync(*c, 2, "absent"), "<miss>");
  EXPECT_EQ(FlushSync(*c, Batch(2, 1, {Item("x", "other")})), EEXIST);  // errno carried
  Result<ShardRecovery> r = c->Recover(2);
  ASSERT_TRUE(r.ok()) << r.error().message;
  EXPECT_EQ(r->newest_generation, 2u);
  EXPECT_EQ(r->max_op, 2u);
  EXPECT_EQ(c->stats().bad_replies, 0u);
  EXPECT_EQ(server_->stats().bad_frames, 0u);
}

TEST_F(StorageLinkTest, GarbageFromTheClientIsRefusedAndCounted) {
  StartServer();
  std::unique_ptr<LinkEnd> nic = link_->open(LinkSide::kNic);
  auto send = [&](uint32_t op, uint64_t id, uint64_t arg1, std::vector<std::byte> payload = {},
                  FrameType type = FrameType::kRequest) {
    ASSERT_TRUE(nic->tx().send(type, op, 0, id, arg1, payload));
  };
  std::vector<std::byte> valid = Batch(0, 1, {Item("a", "1")});
  std::vector<std::byte> truncated(valid.begin(), valid.end() - 8);
  send(99, 1, 0);                            // unknown op
  send(3, 2, 0, std::vector<std::byte>(4));  // lookup payload too short
  send(2, 3, 0, valid);                      // a chunk without its begin
  send(1, 4, kMaxStorageBatch + 1);          // a batch too large
  send(1, 5, truncated.size());              // a truncated batch, whole on the wire
  send(2, 5, 0, truncated);
  send(1, 6, valid.size());  // a chunk that skips ahead
  send(2, 6, 8, valid);
  send(4, 7, 0, {}, FrameType::kStateBegin);  // not a request
  send(1, 8, valid.size());                   // a valid batch still works
  send(2, 8, 0, valid);
  std::map<uint64_t, uint64_t> status;  // by request id
  auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (status.size() < 6 && std::chrono::steady_clock::now() < deadline) {
    nic->rx().recv([&](const FrameHeader& h, std::span<const std::byte>) {
      if (h.arg0 != 0)
        status[h.arg0] = h.arg1;
    });
    usleep(1000);
  }
  EXPECT_EQ(status[2], uint64_t{EPROTO});
  EXPECT_EQ(status[3], uint64_t{EPROTO});
  EXPECT_EQ(status[4], uint64_t{EPROTO});
  EXPECT_EQ(status[5], uint64_t{EINVAL});  // DecodeFlushBatch refused it
  EXPECT_EQ(status[6], uint64_t{EPROTO});
  EXPECT_EQ(status[8], 0u);
  EXPECT_EQ(status.count(1), 0u);  // unanswerable: dropped
  EXPECT_GE(server_->stats().bad_frames, 6u);
  EXPECT_EQ(storage_->store_stats().tables, 1u);
}

TEST_F(StorageLinkTest, GarbageFromTheHostIsRefusedAndCounted) {
  link_ = ShmLink::create(kStorageRingBytes);
  std::unique_ptr<LinkEnd> host = link_->open(LinkSide::kHost);
  slot_.Put(link_->open(LinkSide::kNic));
  auto c = Client();
  std::promise<int> looked, recovered;
  c->Lookup(0, "k", 0, [&](Result<std::optional<StoredValue>> r) {
    looked.set_value(r ? 0 : r.error().code);
  });
  auto recover = std::async(std::launch::async, [&] {
    Result<ShardRecovery> r = c->Recover(0);
    return r ? 0 : r.error().code;
  });
  // Answers each request with something malformed: a lookup reply too short, a recover
  // reply of the wrong op; and a reply for no call.
  int answered = 0;
  auto deadline = std::chrono::steady_clock::now() + kGenerous;
  while (answered < 2 && std::chrono::steady_clock::now() < deadline) {
    host->rx().recv([&](const FrameHeader& h, std::span<const std::byte>) {
      std::vector<std::byte> junk(7);
      if (h.actor == static_cast<uint32_t>(StorageOp::kLookup))
        host->tx().send(FrameType::kReply, h.actor, 0, h.arg0, 0, junk);
      else
        host->tx().send(FrameType::kReply, static_cast<uint32_t>(StorageOp::kLookup), 0, h.arg0, 0,
                        {});
      host->tx().send(FrameType::kReply, h.actor, 0, 12345, 0, {});
      answered++;
    });
    usleep(1000);
  }
  EXPECT_EQ(looked.get_future().get(), EPROTO);
  EXPECT_EQ(recover.get(), EPROTO);
  EXPECT_EQ(c->stats().bad_replies, 2u);
  EXPECT_EQ(c->stats().stale_replies, 2u);
}

TEST_F(StorageLinkTest, UnansweredCallsTimeOut) {
  link_ = ShmLink::create(kStorageRingBytes);
  std::unique_ptr<LinkEnd> host = link_->open(LinkSide::kHost);
  slot_.Put(link_->open(LinkSide::kNic));
  auto c = Client(
      {.call_timeout = std::chrono::milliseconds(200), .host_silence = std::chrono::seconds(60)});
  std::promise<int> done;
  c->Flush(Batch(0, 1, {Item("a", "1")}), [&](Status s) { done.set_value(s.error().code); });
  EXPECT_EQ(done.get_future().get(), ETIMEDOUT);
  EXPECT_EQ(c->stats().timeouts, 1u);
}

TEST_F(StorageLinkTest, StoppedHostFailsCallsAndARestartedOneServesAgain) {
  StartServer();
  auto c = Client(
      {.call_timeout = std::chrono::seconds(60), .host_silence = std::chrono::milliseconds(300)});
  ASSERT_EQ(FlushSync(*c, Batch(1, 1, {Item("kept", "v")})), 0);
  server_->Stop();
  // Calls made now wait for a host that is gone: the silence fails them, not the timeout.
  std::promise<int> flushed, looked;
  c->Flush(Batch(1, 2, {Item("b", "2")}), [&](Status s) { flushed.set_value(s.error().code); });
  c->Lookup(1, "kept", 0, [&](Result<std::optional<StoredValue>> r) {
    looked.set_value(r ? 0 : r.error().code);
  });
  EXPECT_EQ(flushed.get_future().get(), ECONNRESET);
  EXPECT_EQ(looked.get_future().get(), ECONNRESET);
  EXPECT_FALSE(c->connected());
  EXPECT_EQ(LookupSync(*c, 1, "kept"), "error " + std::to_string(ENOTCONN));  // fails fast

  server_.reset();
  StartServer();
  ASSERT_TRUE(c->WaitConnected(kGenerous));
  EXPECT_EQ(LookupSync(*c, 1, "kept"), "v");
  EXPECT_EQ(FlushSync(*c, Batch(1, 2, {Item("b", "2")})), 0);
  EXPECT_EQ(c->stats().connects, 2u);
}

TEST_F(StorageLinkTest, DestroyedClientCompletesItsPendingCalls) {
  link_ = ShmLink::create(kStorageRingBytes);
  std::unique_ptr<LinkEnd> host = link_->open(LinkSide::kHost);  // never answers
  slot_.Put(link_->open(LinkSide::kNic));
  std::promise<int> done;
  {
    auto c = Client(
        {.call_timeout = std::chrono::seconds(60), .host_silence = std::chrono::seconds(60)});
    c->Flush(Batch(0, 1, {Item("a", "1")}), [&](Status s) { done.set_value(s.error().code); });
  }
  EXPECT_EQ(done.get_future().get(), ECANCELED);
}

}  // namespace
}  // namespace wave::kv
