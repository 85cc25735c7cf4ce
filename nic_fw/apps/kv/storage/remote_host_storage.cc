#include "kv/storage/remote_host_storage.h"

#include <sys/stat.h>
#include <wave_kv_flush.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <future>

namespace wave::kv {
namespace {

using rt::mig::FrameChannel;
using rt::mig::FrameHeader;
using rt::mig::FrameType;
using Clock = std::chrono::steady_clock;
using ReplyDone = std::function<void(Result<std::vector<std::byte>>)>;

}  // namespace

struct RemoteHostStorage::Call {
  StorageOp op;
  uint64_t arg1;
  std::vector<std::byte> payload;                 // lookup request
  std::shared_ptr<std::vector<std::byte>> batch;  // flush
  ReplyDone done;
  size_t reply_limit;
  Clock::time_point deadline;
};

// A request frame, or for a flush the begin frame and then its chunks (offset advances).
struct RemoteHostStorage::Frame {
  StorageOp op;
  uint64_t id;
  uint64_t arg1;
  std::vector<std::byte> payload;
  std::shared_ptr<std::vector<std::byte>> batch;  // kFlushChunk: sent from `offset` on
  uint64_t offset = 0;
};

RemoteHostStorage::RemoteHostStorage(Connector connect, Options options)
    : connect_(std::move(connect)), options_(options), thread_([this] { Loop(); }) {}

RemoteHostStorage::~RemoteHostStorage() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

RemoteHostStorage::Connector RemoteHostStorage::PathConnector(std::string path) {
  auto last = std::make_shared<std::pair<dev_t, ino_t>>(0, 0);
  return [path = std::move(path), last]() -> std::unique_ptr<rt::mig::LinkEnd> {
    struct stat st;
    if (stat(path.c_str(), &st) != 0 || (st.st_dev == last->first && st.st_ino == last->second))
      return nullptr;  // no host yet, or the one whose link is gone: wait for a new file
    std::string why;
    auto end = rt::mig::ShmLink::open_path(path, rt::mig::LinkSide::kNic, &why);
    if (end)
      *last = {st.st_dev, st.st_ino};
    return end;
  };
}

bool RemoteHostStorage::WaitConnected(std::chrono::milliseconds timeout) const {
  std::unique_lock lock(mu_);
  return wake_.wait_for(lock, timeout, [&] { return connected_.load(); });
}

RemoteHostStorageStats RemoteHostStorage::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

void RemoteHostStorage::Submit(StorageOp op, uint64_t arg1, std::vector<std::byte> payload,
                               std::shared_ptr<std::vector<std::byte>> batch, ReplyDone done,
                               size_t reply_limit) {
  auto call =
      std::make_unique<Call>(Call{op, arg1, std::move(payload), std::move(batch), std::move(done),
                                  reply_limit, Clock::now() + options_.call_timeout});
  {
    std::lock_guard lock(mu_);
    stats_.calls++;
    incoming_.push_back(std::move(call));
  }
  wake_.notify_all();
}

void RemoteHostStorage::Flush(std::vector<std::byte> batch, FlushDone done) {
  auto bytes = std::make_shared<std::vector<std::byte>>(std::move(batch));
  uint64_t size = bytes->size();
  Submit(
      StorageOp::kFlushBegin, size, {}, std::move(bytes),
      [done = std::move(done)](Result<std::vector<std::byte>> r) {
        done(r ? Status() : Status(r.error()));
      },
      0);
}

void RemoteHostStorage::Lookup(uint32_t shard, std::string key, int64_t now_s, LookupDone done) {
  LookupRequest req{now_s, static_cast<uint32_t>(key.size()), 0};
  std::vector<std::byte> payload(sizeof(req) + key.size());
  std::memcpy(payload.data(), &req, sizeof(req));
  std::memcpy(payload.data() + sizeof(req), key.data(), key.size());
  Submit(
      StorageOp::kLookup, shard, std::move(payload), nullptr,
      [done = std::move(done)](Result<std::vector<std::byte>> r) {
        if (!r)
          return done(r.error());
        LookupReply lr;
        std::memcpy(&lr, r->data(), sizeof(lr));  // size checked in HandleReply
        if (!lr.found)
          return done(std::optional<StoredValue>());
        StoredValue v{
            std::string(reinterpret_cast<const char*>(r->data()) + sizeof(lr), lr.value_len),
            lr.flags, lr.exptime, lr.cas};
        done(std::optional<StoredValue>(std::move(v)));
      },
      sizeof(LookupReply) + WAVE_KV_FLUSH_MAX_VALUE);
}

Result<ShardRecovery> RemoteHostStorage::Recover(uint32_t shard) {
  auto answer = std::make_shared<std::promise<Result<ShardRecovery>>>();
  auto result = answer->get_future();
  Submit(
      StorageOp::kRecover, shard, {}, nullptr,
      [answer](Result<std::vector<std::byte>> r) {
        if (!r)
          return answer->set_value(r.error());
        RecoverReply rr;
        std::memcpy(&rr, r->data(), sizeof(rr));
        answer->set_value(ShardRecovery{rr.newest_generation, rr.max_op});
      },
      sizeof(RecoverReply));
  return result.get();  // the call times out, so this returns
}

void RemoteHostStorage::Loop() {
  auto backoff = std::chrono::milliseconds(5);
  auto next_attempt = Clock::now();
  for (;;) {
    {
      std::unique_lock lock(mu_);
      if (stop_)
        break;
    }
    if (!end_ && Clock::now() >= next_attempt) {
      end_ = connect_();
      if (end_) {
        last_heard_ = Clock::now();
        backoff = std::chrono::milliseconds(5);
        {
          std::lock_guard lock(mu_);
          stats_.connects++;
        }
        connected_ = true;
        wake_.notify_all();
      } else {
        next_attempt = Clock::now() + backoff;
        backoff = std::min(backoff * 2, options_.max_backoff);
      }
    }
    TakeCalls();
    bool busy = false;
    if (end_) {
      Receive();
      if (end_ && !SendFrames())
        busy = true;  // the ring is full
      if (end_ && (!end_->ok() || Clock::now() - last_heard_ > options_.host_silence))
        Disconnect(end_->ok() ? "the host fell silent" : "the link broke");
    }
    ExpireCalls();
    busy = busy || !sending_.empty() || !pending_.empty();
    // While calls are out, poll the ring often; idle, sleep until a call comes (or the next
    // heartbeat is due to be read, or a reconnection attempt).
    std::unique_lock lock(mu_);
    auto nap = busy ? std::chrono::microseconds(50) : std::chrono::microseconds(5000);
    wake_.wait_for(lock, nap, [&] { return stop_ || (!busy && !incoming_.empty()); });
  }
  // Stopping: every call not answered completes, none is dropped.
  TakeCalls();
  std::vector<ReplyDone> cancelled;
  for (auto& [id, p] : pending_)
    cancelled.push_back(std::move(p.done));
  pending_.clear();
  for (auto& done : cancelled)
    done(Error{ECANCELED, "host storage client stopped"});
}

void RemoteHostStorage::TakeCalls() {
  std::deque<std::unique_ptr<Call>> calls;
  {
    std::lock_guard lock(mu_);
    calls.swap(incoming_);
  }
  for (auto& c : calls) {
    if (!end_) {
      {
        std::lock_guard lock(mu_);
        stats_.failed_not_connected++;
      }
      c->done(Error{ENOTCONN, "no link to the host storage (wave-kv-host)"});
      continue;
    }
    if (c->op == StorageOp::kFlushBegin &&
        (c->batch->empty() || c->batch->size() > kMaxStorageBatch)) {
      c->done(Error{EINVAL, "flush batch of " + std::to_string(c->batch->size()) + " bytes"});
      continue;
    }
    uint64_t id = next_id_++;
    pending_[id] = Pending{c->op == StorageOp::kFlushBegin ? StorageOp::kFlushChunk : c->op,
                           c->deadline,
                           std::move(c->done),
                           {},
                           c->reply_limit};
    sending_.push_back(std::make_unique<Frame>(
        Frame{c->op, id, c->arg1, std::move(c->payload), std::move(c->batch), 0}));
  }
}

bool RemoteHostStorage::SendFrames() {
  while (!sending_.empty()) {
    Frame& f = *sending_.front();
    if (f.op == StorageOp::kFlushBegin) {
      if (!end_->tx().send(FrameType::kRequest, static_cast<uint32_t>(f.op), 0, f.id, f.arg1, {}))
        return false;
      f.op = StorageOp::kFlushChunk;
    }
    if (f.op == StorageOp::kFlushChunk) {
      // Sent to the end even if the call timed out meanwhile: the host drops a batch it
      // never completes only when the link goes.
      while (f.offset < f.batch->size()) {
        size_t n = std::min<size_t>(kStorageChunk, f.batch->size() - f.offset);
        if (!end_->tx().send(FrameType::kRequest, static_cast<uint32_t>(f.op), 0, f.id, f.offset,
                             std::span(*f.batch).subspan(f.offset, n)))
          return false;
        f.offset += n;
      }
    } else if (!end_->tx().send(FrameType::kRequest, static_cast<uint32_t>(f.op), 0, f.id, f.arg1,
                                f.payload)) {
      return false;
    }
    sending_.pop_front();
  }
  return true;
}

void RemoteHostStorage::Receive() {
  for (int i = 0; i < 256 && end_; ++i) {
    FrameChannel::Recv got = end_->rx().recv(
        [&](const FrameHeader& h, std::span<const std::byte> p) { HandleReply(h, p); });
    if (got != FrameChannel::Recv::kFrame)
      return;
  }
}

void RemoteHostStorage::HandleReply(const FrameHeader& h, std::span<const std::byte> payload) {
  last_heard_ = Clock::now();
  auto bad = [&] {
    std::lock_guard lock(mu_);
    stats_.bad_replies++;
  };
  if (static_cast<FrameType>(h.type) != FrameType::kReply || h.actor > kMaxStorageOp ||
      (h.flags & ~kStorageMore) != 0)
    return bad();
  if (h.actor == static_cast<uint32_t>(StorageOp::kHeartbeat)) {
    if (h.arg0 != 0 || !payload.empty())
      bad();
    return;
  }
  auto it = pending_.find(h.arg0);
  if (it == pending_.end()) {
    std::lock_guard lock(mu_);
    stats_.stale_replies++;
    return;
  }
  Pending& p = it->second;
  Error malformed{EPROTO, "malformed reply from the host storage"};
  bool ok = static_cast<uint32_t>(p.op) == h.actor && h.arg1 < 4096 &&
            payload.size() <= p.reply_limit - std::min(p.reply_limit, p.reply.size());
  if (ok)
    p.reply.insert(p.reply.end(), payload.begin(), payload.end());
  if (ok && (h.flags & kStorageMore) != 0)
    return;  // more of the payload follows
  if (ok && h.arg1 == 0) {
    if (p.op == StorageOp::kFlushChunk) {
      ok = p.reply.empty();
    } else if (p.op == StorageOp::kRecover) {
      ok = p.reply.size() == sizeof(RecoverReply);
    } else {
      LookupReply lr{};
      ok = p.reply.size() >= sizeof(lr);
      if (ok)
        std::memcpy(&lr, p.reply.data(), sizeof(lr));
      ok = ok && lr.found <= 1 && lr.reserved == 0 && lr.value_len <= WAVE_KV_FLUSH_MAX_VALUE &&
           p.reply.size() == sizeof(lr) + lr.value_len && (lr.found || lr.value_len == 0);
    }
  }
  ReplyDone done = std::move(p.done);
  std::vector<std::byte> reply = std::move(p.reply);
  const uint64_t status = h.arg1;
  pending_.erase(it);
  {
    std::lock_guard lock(mu_);
    (ok ? stats_.replies : stats_.bad_replies)++;
  }
  if (!ok)
    return done(malformed);
  if (status != 0)
    return done(Error{static_cast<int>(status),
                      std::string("host storage: ") + std::strerror(static_cast<int>(status))});
  done(std::move(reply));
}

void RemoteHostStorage::ExpireCalls() {
  const auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (it->second.deadline > now) {
      ++it;
      continue;
    }
    ReplyDone done = std::move(it->second.done);
    it = pending_.erase(it);
    {
      std::lock_guard lock(mu_);
      stats_.timeouts++;
    }
    done(Error{ETIMEDOUT, "host storage call timed out"});
  }
}

void RemoteHostStorage::Disconnect(const char* why) {
  end_.reset();
  connected_ = false;
  sending_.clear();
  std::map<uint64_t, Pending> lost;
  lost.swap(pending_);
  {
    std::lock_guard lock(mu_);
    stats_.disconnects++;
    stats_.failed_disconnected += lost.size();
  }
  for (auto& [id, p] : lost)
    p.done(Error{ECONNRESET, std::string("host storage link lost: ") + why});
}

}  // namespace wave::kv
