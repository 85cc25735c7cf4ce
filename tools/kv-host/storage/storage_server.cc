#include "storage_server.h"

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "kv/storage/storage_wire.h"

namespace wave::kv {
namespace {

using rt::mig::FrameChannel;
using rt::mig::FrameHeader;
using rt::mig::FrameType;
using Clock = std::chrono::steady_clock;

// Batches being assembled at once: more is a client gone wrong (each holds up to 256 MB).
constexpr size_t kMaxAssemblies = 8;

}  // namespace

StorageServer::StorageServer(std::unique_ptr<rt::mig::LinkEnd> host_end, LocalHostStorage& storage)
    : end_(std::move(host_end)), storage_(storage) {}

StorageServer::~StorageServer() {
  Stop();
}

void StorageServer::Start() {
  if (!thread_.joinable())
    thread_ = std::thread([this] { Loop(); });
}

void StorageServer::Stop() {
  stop_ = true;
  if (thread_.joinable())
    thread_.join();
}

StorageServerStats StorageServer::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void StorageServer::Queue(Reply r) {
  outbox_->Push(std::move(r));
}

void StorageServer::Refuse(StorageOp op, uint64_t id, int code) {
  {
    std::lock_guard lock(mu_);
    stats_.bad_frames++;
  }
  if (id != 0)
    Queue(Reply{op, id, static_cast<uint32_t>(code), {}});
}

bool StorageServer::SendQueued() {
  std::lock_guard lock(outbox_->mu);
  while (!outbox_->replies.empty()) {
    Reply& r = outbox_->replies.front();
    // A payload over one chunk (a large value) goes in several frames; all but the last
    // carry kStorageMore.
    do {
      size_t n = std::min<size_t>(kStorageChunk, r.payload.size() - r.sent);
      bool last = r.sent + n == r.payload.size();
      if (!end_->tx().send(FrameType::kReply, static_cast<uint32_t>(r.op), last ? 0 : kStorageMore,
                           r.id, r.status, std::span(r.payload).subspan(r.sent, n)))
        return false;
      r.sent += n;
    } while (r.sent < r.payload.size());
    outbox_->replies.pop_front();
    std::lock_guard stats_lock(mu_);
    stats_.replies++;
  }
  return true;
}

void StorageServer::Loop() {
  auto next_heartbeat = Clock::now();
  int idle = 0;
  while (!stop_) {
    bool busy = false;
    for (int i = 0; i < 64; ++i) {
      FrameChannel::Recv got = end_->rx().recv(
          [&](const FrameHeader& h, std::span<const std::byte> payload) { Handle(h, payload); });
      if (got == FrameChannel::Recv::kBroken) {
        std::lock_guard lock(mu_);
        stats_.broken = true;
        return;  // the client restarts the link by reconnecting to a new file
      }
      if (got != FrameChannel::Recv::kFrame)
        break;
      busy = true;
    }
    if (!SendQueued())
      busy = true;  // the ring is full: come back soon
    if (Clock::now() >= next_heartbeat) {
      end_->tx().send(FrameType::kReply, static_cast<uint32_t>(StorageOp::kHeartbeat), 0, 0, 0, {});
      next_heartbeat = Clock::now() + std::chrono::milliseconds(kHeartbeatMs);
    }
    {
      std::lock_guard lock(outbox_->mu);
      busy = busy || !outbox_->replies.empty();
    }
    idle = busy ? 0 : idle + 1;
    // A short nap while there is traffic, a longer one when idle: no busy polling.
    std::this_thread::sleep_for(idle < 100 ? std::chrono::microseconds(50)
                                           : std::chrono::microseconds(1000));
  }
}

void StorageServer::Handle(const FrameHeader& h, std::span<const std::byte> payload) {
  const uint64_t id = h.arg0;
  {
    std::lock_guard lock(mu_);
    stats_.requests++;
  }
  if (static_cast<FrameType>(h.type) != FrameType::kRequest || id == 0 || h.actor == 0 ||
      h.actor > kMaxStorageOp)
    return Refuse(StorageOp::kHeartbeat, 0, EPROTO);  // cannot be answered: dropped
  const auto op = static_cast<StorageOp>(h.actor);
  switch (op) {
    case StorageOp::kFlushBegin:
      if (!payload.empty() || h.arg1 == 0 || h.arg1 > kMaxStorageBatch ||
          assembling_.size() >= kMaxAssemblies || assembling_.count(id) != 0)
        return Refuse(StorageOp::kFlushChunk, id, EPROTO);
      assembling_[id].total = h.arg1;
      assembling_[id].bytes.reserve(h.arg1);
      return;
    case StorageOp::kFlushChunk:
      return HandleChunk(id, h.arg1, payload);
    case StorageOp::kLookup:
      return HandleLookup(id, h.arg1, payload);
    case StorageOp::kRecover: {
      if (!payload.empty() || h.arg1 > UINT32_MAX)
        return Refuse(op, id, EPROTO);
      {
        std::lock_guard lock(mu_);
        stats_.recovers++;
      }
      // Recover waits for the calls before it on the storage's worker (at start: fast).
      Result<ShardRecovery> r = storage_.Recover(static_cast<uint32_t>(h.arg1));
      Reply reply{op, id, r ? 0u : static_cast<uint32_t>(r.error().code), {}};
      if (r) {
        RecoverReply rr{r->newest_generation, r->max_op};
        reply.payload.resize(sizeof(rr));
        std::memcpy(reply.payload.data(), &rr, sizeof(rr));
      }
      return Queue(std::move(reply));
    }
    case StorageOp::kHeartbeat:
      break;
  }
  Refuse(op, id, EPROTO);
}

void StorageServer::HandleChunk(uint64_t id, uint64_t offset, std::span<const std::byte> payload) {
  auto it = assembling_.find(id);
  if (it == assembling_.end())
    return Refuse(StorageOp::kFlushChunk, id, EPROTO);
  Assembly& a = it->second;
  // Chunks arrive in order on the ring: one that does not continue the batch is a bad client.
  if (offset != a.bytes.size() || payload.empty() || payload.size() > kStorageChunk ||
      payload.size() > a.total - a.bytes.size()) {
    assembling_.erase(it);
    return Refuse(StorageOp::kFlushChunk, id, EPROTO);
  }
  a.bytes.insert(a.bytes.end(), payload.begin(), payload.end());
  if (a.bytes.size() < a.total)
    return;
  std::vector<std::byte> batch = std::move(a.bytes);
  assembling_.erase(it);
  {
    std::lock_guard lock(mu_);
    stats_.flushes++;
  }
  // LocalHostStorage decodes and checks every field before it ingests.
  storage_.Flush(std::move(batch), [outbox = outbox_, id](Status s) {
    outbox->Push(
        Reply{StorageOp::kFlushChunk, id, s ? 0u : static_cast<uint32_t>(s.error().code), {}});
  });
}

void StorageServer::HandleLookup(uint64_t id, uint64_t shard, std::span<const std::byte> payload) {
  LookupRequest req;
  if (payload.size() < sizeof(req) || shard > UINT32_MAX)
    return Refuse(StorageOp::kLookup, id, EPROTO);
  std::memcpy(&req, payload.data(), sizeof(req));
  if (req.reserved != 0 || req.key_len == 0 || req.key_len > WAVE_KV_FLUSH_MAX_KEY ||
      payload.size() != sizeof(req) + req.key_len)
    return Refuse(StorageOp::kLookup, id, EPROTO);
  std::string key(reinterpret_cast<const char*>(payload.data()) + sizeof(req), req.key_len);
  {
    std::lock_guard lock(mu_);
    stats_.lookups++;
  }
  storage_.Lookup(
      static_cast<uint32_t>(shard), std::move(key), req.now_s,
      [outbox = outbox_, id](Result<std::optional<StoredValue>> r) {
        Reply reply{StorageOp::kLookup, id, r ? 0u : static_cast<uint32_t>(r.error().code), {}};
        if (r) {
          LookupReply lr{};
          if (r->has_value()) {
            const StoredValue& v = **r;
            lr = {1, v.flags, v.exptime, v.cas, static_cast<uint32_t>(v.value.size()), 0};
          }
          reply.payload.resize(sizeof(lr) + lr.value_len);
          std::memcpy(reply.payload.data(), &lr, sizeof(lr));
          if (r->has_value())
            std::memcpy(reply.payload.data() + sizeof(lr), (*r)->value.data(), lr.value_len);
        }
        outbox->Push(std::move(reply));
      });
}

}  // namespace wave::kv
