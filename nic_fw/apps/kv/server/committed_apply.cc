#include "kv/server/committed_apply.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "kv/protocol/memcache_text.h"

namespace wave::kv {
namespace {

// How often a shard that answered kStalled is tried again when no flush says room came.
constexpr auto kRetryEvery = std::chrono::milliseconds(10);
constexpr size_t kNoShard = ~size_t{0};

}  // namespace

CommittedApplier::CommittedApplier(std::vector<rt::ActorId> shards, Post post, ShardOf shard_of)
    : shards_(std::move(shards)),
      post_(std::move(post)),
      shard_of_(std::move(shard_of)),
      state_(shards_.size()),
      retry_([this] { RetryLoop(); }) {}

CommittedApplier::~CommittedApplier() {
  Stop();
}

void CommittedApplier::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (retry_.joinable())
    retry_.join();
}

size_t CommittedApplier::IndexOf(rt::ActorId actor) const {
  auto it = std::find(shards_.begin(), shards_.end(), actor);
  return it == shards_.end() ? kNoShard : static_cast<size_t>(it - shards_.begin());
}

void CommittedApplier::Apply(const KvOp& op, uint64_t token) {
  const std::vector<std::byte> payload = EncodeOp(op);
  auto apply_to = [&](size_t shard, uint64_t request_id) {
    if (op.op_number != 0 && shard < covered_.size() && op.op_number <= covered_[shard]) {
      std::lock_guard lock(mu_);
      ++stats_.skipped;
      return;
    }
    std::lock_guard post_lock(post_mu_);
    {
      std::lock_guard lock(mu_);
      if (stop_)
        return;  // the server is going: the write stays in the log for the next start
      ++stats_.applied;
      ShardState& st = state_[shard];
      Write w{op.op_number, request_id, payload, false};
      if (!st.waiting.empty() && op.op_number != 0) {
        // Behind writes that wait: it would only be answered kStalled.
        st.waiting.emplace(op.op_number, std::move(w));
        ++stats_.waiting;
        return;
      }
      st.in_mailbox.emplace(request_id, std::move(w));
    }
    post_(rt::Message{
        .request_id = request_id, .dst = shards_[shard], .kind = kKvOpKind, .payload = payload});
  };
  if (op.code == KvOpCode::kFlushAll) {
    for (size_t s = 0; s < shards_.size(); ++s)
      apply_to(s, token != 0 ? token | s : next_background_id_++);
    return;
  }
  const size_t shard = shard_of_(op.key);
  if (shard < shards_.size())
    apply_to(shard, token != 0 ? token : next_background_id_++);
}

bool CommittedApplier::OnReply(const rt::Reply& reply) {
  const size_t shard = IndexOf(reply.actor);
  if (shard == kNoShard)
    return false;
  ResultPeek peek;
  const bool stalled = reply.status == rt::Status::kOk && PeekResult(reply.payload, &peek) &&
                       peek.code == KvResultCode::kStalled;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    ShardState& st = state_[shard];
    auto it = st.in_mailbox.find(reply.request_id);
    if (it == st.in_mailbox.end())
      return false;  // not a committed write (a read), or answered already
    Write w = std::move(it->second);
    st.in_mailbox.erase(it);
    if (stalled) {
      ++stats_.stalls;
      ++stats_.waiting;
      st.probe_ok = false;
      st.waiting.emplace(w.op_number, std::move(w));
      wake = true;
    } else if (w.reposted && !st.waiting.empty()) {
      // A write posted again went in: the shard has room, the others may follow at once.
      st.probe_ok = true;
      room_ = true;
      wake = true;
    }
  }
  if (wake)
    cv_.notify_all();
  return stalled;
}

void CommittedApplier::OnRoom(size_t shard) {
  (void)shard;
  {
    std::lock_guard lock(mu_);
    room_ = true;
  }
  cv_.notify_all();
}

void CommittedApplier::RetryLoop() {
  std::unique_lock lock(mu_);
  while (!stop_) {
    if (stats_.waiting == 0)
      cv_.wait(lock, [this] { return stop_ || stats_.waiting > 0; });
    else
      cv_.wait_for(lock, kRetryEvery, [this] { return stop_ || room_; });
    if (stop_)
      break;
    room_ = false;
    lock.unlock();
    {
      std::lock_guard post_lock(post_mu_);
      std::vector<rt::Message> out;
      {
        std::lock_guard l(mu_);
        for (size_t s = 0; s < state_.size() && !stop_; ++s) {
          ShardState& st = state_[s];
          // Only once none of its writes is still in its mailbox: an answer still to come
          // may be kStalled, and a write posted now would overtake that one.
          if (st.waiting.empty() || !st.in_mailbox.empty())
            continue;
          // The oldest alone first (it is the one that found no room); the rest once it went in.
          size_t n = st.probe_ok ? st.waiting.size() : 1;
          while (n-- > 0) {
            auto first = st.waiting.begin();
            Write w = std::move(first->second);
            st.waiting.erase(first);
            --stats_.waiting;
            ++stats_.reposts;
            w.reposted = true;
            out.push_back(rt::Message{.request_id = w.request_id,
                                      .dst = shards_[s],
                                      .kind = kKvOpKind,
                                      .payload = w.payload});
            st.in_mailbox.emplace(w.request_id, std::move(w));
          }
          st.probe_ok = false;
        }
      }
      for (rt::Message& m : out)
        post_(std::move(m));
    }
    lock.lock();
  }
}

size_t CommittedApplier::Waiting(size_t shard) const {
  std::lock_guard lock(mu_);
  return shard < state_.size() ? state_[shard].waiting.size() : 0;
}

ApplyStats CommittedApplier::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string CommittedApplier::StatLines() const {
  const ApplyStats s = stats();
  std::string out;
  AppendStat(&out, "apply.applied", std::to_string(s.applied));
  AppendStat(&out, "apply.skipped", std::to_string(s.skipped));
  AppendStat(&out, "apply.stalls", std::to_string(s.stalls));
  AppendStat(&out, "apply.reposts", std::to_string(s.reposts));
  AppendStat(&out, "apply.waiting", std::to_string(s.waiting));
  return out;
}

}  // namespace wave::kv
