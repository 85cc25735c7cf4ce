#include "kv/server/shard_tiering.h"

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <utility>

#include "kv/protocol/memcache_text.h"
#include "kv/store/kv_message.h"

namespace wave::kv {
namespace {

// The tier's own requests: bit 62 (the front end numbers from 1, background writes from 2^63).
constexpr uint64_t kTierIds = 1ull << 62;
constexpr uint64_t kBackgroundIds = 1ull << 63;
constexpr uint64_t kFirstBackoffNs = 100'000'000;
constexpr uint64_t kMaxBackoffNs = 2'000'000'000;
constexpr auto kEnableTimeout = std::chrono::seconds(10);
constexpr size_t kNoShard = ~size_t{0};

uint64_t NowNs() {
  return static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::steady_clock::now().time_since_epoch())
                                   .count());
}

}  // namespace

// The storage's callbacks run on its threads; the destructor waits for those in flight, and
// once it has begun they do nothing but finish.
struct ShardTiering::Shared {
  std::mutex mu;
  std::condition_variable cv;
  bool closed = false;
  int callbacks = 0;
  // False once closed: then the caller must not start a storage call.
  bool Enter() {
    std::lock_guard lock(mu);
    if (closed)
      return false;
    ++callbacks;
    return true;
  }
  bool Closed() {
    std::lock_guard lock(mu);
    return closed;
  }
  void Leave() {
    std::lock_guard lock(mu);
    --callbacks;
    cv.notify_all();
  }
};

ShardTiering::ShardTiering(HostStorage& storage, std::vector<rt::ActorId> shards, Post post,
                           rt::ReplySink downstream, TieringConfig cfg)
    : storage_(storage),
      shards_(std::move(shards)),
      post_(std::move(post)),
      downstream_(std::move(downstream)),
      cfg_(cfg),
      shared_(std::make_shared<Shared>()),
      parked_(shards_.size()),
      freezing_(shards_.size(), 0),
      retry_after_ns_(shards_.size(), 0),
      backoff_ns_(shards_.size(), 0),
      refetch_(shards_.size()) {}

ShardTiering::~ShardTiering() {
  std::unique_lock lock(shared_->mu);
  shared_->closed = true;
  shared_->cv.wait(lock, [this] { return shared_->callbacks == 0; });
}

size_t ShardTiering::ShardIndex(rt::ActorId actor) const {
  auto it = std::find(shards_.begin(), shards_.end(), actor);
  return it == shards_.end() ? kNoShard : static_cast<size_t>(it - shards_.begin());
}

uint64_t ShardTiering::PostTierOp(size_t shard, Kind kind, KvOp&& op, std::string key) {
  uint64_t id;
  std::vector<std::byte> payload = EncodeOp(op);
  {
    std::lock_guard lock(mu_);
    id = kTierIds | next_id_++;
    outstanding_[id] =
        Outstanding{kind, shard, std::move(key),
                    kind == Kind::kFetched ? std::make_shared<const KvOp>(std::move(op)) : nullptr};
  }
  rt::Status s = post_(rt::Message{
      .request_id = id, .dst = shards_[shard], .kind = kKvOpKind, .payload = std::move(payload)});
  if (s != rt::Status::kOk)
    OnReply(rt::Reply{.request_id = id, .actor = shards_[shard], .status = s});
  return id;
}

Result<std::vector<uint64_t>> ShardTiering::Start() {
  std::mutex m;
  std::condition_variable cv;
  std::map<uint64_t, bool> acks;
  {
    std::lock_guard lock(mu_);
    on_enabled_ = [&](uint64_t id, bool ok) {
      std::lock_guard l(m);
      acks[id] = ok;
      cv.notify_all();
    };
  }
  std::vector<uint64_t> covered(shards_.size());
  std::vector<uint64_t> ids;
  for (size_t i = 0; i < shards_.size(); ++i) {
    Result<ShardRecovery> rec = storage_.Recover(static_cast<uint32_t>(i));
    if (!rec.ok()) {
      std::lock_guard lock(mu_);
      on_enabled_ = nullptr;
      return Error{rec.error().code,
                   "shard " + std::to_string(i) +
                       ": the host storage did not answer: " + rec.error().message};
    }
    covered[i] = rec->max_op;
    ids.push_back(PostTierOp(i, Kind::kEnable,
                             KvOp{.code = KvOpCode::kTierEnable,
                                  .flags = static_cast<uint32_t>(i),
                                  .exptime = static_cast<int64_t>(cfg_.batch_max),
                                  .cas_unique = cfg_.flush_threshold,
                                  .delta = rec->newest_generation}));
  }
  bool all_ok;
  {
    std::unique_lock l(m);
    cv.wait_for(l, kEnableTimeout, [&] { return acks.size() == ids.size(); });
    all_ok = acks.size() == ids.size() &&
             std::all_of(acks.begin(), acks.end(), [](const auto& a) { return a.second; });
  }
  {
    std::lock_guard lock(mu_);
    on_enabled_ = nullptr;
  }
  if (!all_ok)
    return Error{EIO, "a shard did not turn its tier on"};
  return covered;
}

void ShardTiering::OnReply(rt::Reply&& reply) {
  const uint64_t id = reply.request_id;
  if ((id & kTierIds) != 0 && (id & kBackgroundIds) == 0) {
    Outstanding o;
    std::function<void(uint64_t, bool)> enabled;
    {
      std::lock_guard lock(mu_);
      auto it = outstanding_.find(id);
      if (it == outstanding_.end())
        return;
      o = std::move(it->second);
      outstanding_.erase(it);
      enabled = on_enabled_;
    }
    ResultPeek peek;
    const bool decoded = reply.status == rt::Status::kOk && PeekResult(reply.payload, &peek);
    switch (o.kind) {
      case Kind::kEnable:
        if (enabled)
          enabled(id, decoded && peek.code == KvResultCode::kOk);
        return;
      case Kind::kFreeze:
        OnFrozen(o.shard, reply);
        return;
      case Kind::kFlushDone: {
        std::vector<KvOp> again;
        {
          std::lock_guard lock(mu_);
          freezing_[o.shard] = 0;
          again.swap(refetch_[o.shard]);
          stats_.refetches += again.size();
        }
        for (KvOp& op : again) {
          std::string key = op.key;
          PostTierOp(o.shard, Kind::kFetched, std::move(op), std::move(key));
        }
        if (flush_listener_)
          flush_listener_(o.shard);
        break;
      }
      case Kind::kFetched:
        OnFetchedReply(o, reply);
        return;
    }
    if (decoded && peek.wants_flush)
      RequestFreeze(o.shard);
    return;
  }
  const size_t shard = ShardIndex(reply.actor);
  ResultPeek peek;
  if (reply.status == rt::Status::kOk && shard != kNoShard && PeekResult(reply.payload, &peek)) {
    if (peek.wants_flush)
      RequestFreeze(shard);
    if (peek.code == KvResultCode::kParked) {
      KvResult full;
      if (DecodeResult(reply.payload, &full)) {
        if (peek.number == 2)
          AnswerFromHost(shard, id, std::move(full.value));
        else
          OnParked(shard, id, std::move(full.value), peek.number == 1);
        return;
      }
    }
  }
  downstream_(std::move(reply));
}

void ShardTiering::RequestFreeze(size_t shard) {
  {
    std::lock_guard lock(mu_);
    if (freezing_[shard] != 0 || NowNs() < retry_after_ns_[shard])
      return;
    freezing_[shard] = 1;
  }
  PostTierOp(shard, Kind::kFreeze, KvOp{.code = KvOpCode::kFreeze});
}

void ShardTiering::OnFrozen(size_t shard, const rt::Reply& reply) {
  KvResult r;
  if (reply.status != rt::Status::kOk || !DecodeResult(reply.payload, &r) ||
      r.code != KvResultCode::kOk || !shared_->Enter()) {
    std::lock_guard lock(mu_);
    freezing_[shard] = 0;  // nothing to flush now, or the shard cannot freeze
    return;
  }
  const uint64_t gen = r.number;
  const uint64_t size = r.value.size();
  {
    std::lock_guard lock(mu_);
    ++stats_.freezes;
  }
  const auto* p = reinterpret_cast<const std::byte*>(r.value.data());
  storage_.Flush(std::vector<std::byte>(p, p + size), [this, shard, gen, size](Status s) {
    if (!shared_->Closed()) {
      {
        std::lock_guard lock(mu_);
        if (s.ok()) {
          ++stats_.flushed;
          stats_.flushed_bytes += size;
          backoff_ns_[shard] = 0;
        } else {
          ++stats_.flush_failures;
          backoff_ns_[shard] = std::clamp(backoff_ns_[shard] * 2, kFirstBackoffNs, kMaxBackoffNs);
          retry_after_ns_[shard] = NowNs() + backoff_ns_[shard];
        }
      }
      PostTierOp(shard, Kind::kFlushDone,
                 KvOp{.code = KvOpCode::kFlushDone, .flags = s.ok() ? 1u : 0u, .delta = gen});
    }
    shared_->Leave();
  });
}

void ShardTiering::OnParked(size_t shard, uint64_t request_id, std::string key, bool first) {
  {
    std::lock_guard lock(mu_);
    if (early_answered_.erase(request_id) != 0)
      return;  // its result came in a kFetched reply already
    parked_[shard][key].push_back(request_id);
    if (first)
      ++stats_.lookups;
  }
  if (!first)
    return;
  if (!shared_->Enter())
    return;
  storage_.Lookup(static_cast<uint32_t>(shard), key, static_cast<int64_t>(std::time(nullptr)),
                  [this, shard, key](Result<std::optional<StoredValue>> found) {
                    if (!shared_->Closed()) {
                      KvOp op{.code = KvOpCode::kFetched, .key = key};
                      if (!found.ok()) {
                        op.delta = 2;
                        std::lock_guard lock(mu_);
                        ++stats_.lookup_failures;
                      } else if (found->has_value()) {
                        const StoredValue& v = **found;
                        op.delta = 1;
                        op.value = v.value;
                        op.flags = v.flags;
                        op.exptime = static_cast<int64_t>(v.exptime);
                        op.cas_unique = v.cas;
                      }
                      PostTierOp(shard, Kind::kFetched, std::move(op), key);
                    }
                    shared_->Leave();
                  });
}

void ShardTiering::AnswerFromHost(size_t shard, uint64_t request_id, std::string key) {
  {
    std::lock_guard lock(mu_);
    ++stats_.lookups;
    ++stats_.direct_lookups;
  }
  if (!shared_->Enter())
    return;  // going away: the front end's connections go with it
  storage_.Lookup(static_cast<uint32_t>(shard), std::move(key),
                  static_cast<int64_t>(std::time(nullptr)),
                  [this, shard, request_id](Result<std::optional<StoredValue>> found) {
                    if (!shared_->Closed()) {
                      KvResult r;
                      if (!found.ok()) {
                        r.code = KvResultCode::kUnavailable;
                        std::lock_guard lock(mu_);
                        ++stats_.lookup_failures;
                      } else if (found->has_value()) {
                        r.code = KvResultCode::kHit;
                        r.value = (*found)->value;
                        r.flags = (*found)->flags;
                        r.cas = (*found)->cas;
                      } else {
                        r.code = KvResultCode::kMiss;
                      }
                      downstream_(rt::Reply{.request_id = request_id,
                                            .actor = shards_[shard],
                                            .status = rt::Status::kOk,
                                            .payload = EncodeResult(r)});
                    }
                    shared_->Leave();
                  });
}

void ShardTiering::OnFetchedReply(const Outstanding& o, const rt::Reply& reply) {
  KvResult r;
  std::vector<ParkedResult> results;
  const bool decoded = reply.status == rt::Status::kOk && DecodeResult(reply.payload, &r);
  if (decoded && r.code == KvResultCode::kStalled && o.fetched) {
    // Committed writes wait on the key and the answer found no room: again after a flush.
    {
      std::lock_guard lock(mu_);
      refetch_[o.shard].push_back(*o.fetched);
    }
    if (r.wants_flush)
      RequestFreeze(o.shard);
    return;
  }
  if (!decoded || r.code != KvResultCode::kOk || !DecodeParkedResults(r.value, &results)) {
    FailParked(o.shard, o.key);
    return;
  }
  for (ParkedResult& p : results) {
    {
      std::lock_guard lock(mu_);
      auto it = parked_[o.shard].find(o.key);
      bool seen = false;
      if (it != parked_[o.shard].end()) {
        auto& ids = it->second;
        auto at = std::find(ids.begin(), ids.end(), p.request_id);
        if (at != ids.end()) {
          ids.erase(at);
          seen = true;
        }
        if (ids.empty())
          parked_[o.shard].erase(it);
      }
      if (!seen)
        early_answered_.insert(p.request_id);
      ++stats_.parked_answered;
    }
    downstream_(rt::Reply{.request_id = p.request_id,
                          .actor = shards_[o.shard],
                          .status = rt::Status::kOk,
                          .payload = EncodeResult(p.result)});
  }
  if (r.wants_flush)
    RequestFreeze(o.shard);
}

void ShardTiering::FailParked(size_t shard, const std::string& key) {
  std::vector<uint64_t> ids;
  {
    std::lock_guard lock(mu_);
    auto it = parked_[shard].find(key);
    if (it == parked_[shard].end())
      return;
    ids = std::move(it->second);
    parked_[shard].erase(it);
    stats_.parked_failed += ids.size();
  }
  const std::vector<std::byte> failed = EncodeResult({.code = KvResultCode::kUnavailable});
  for (uint64_t id : ids)
    downstream_(rt::Reply{
        .request_id = id, .actor = shards_[shard], .status = rt::Status::kOk, .payload = failed});
}

TieringStats ShardTiering::stats() const {
  std::lock_guard lock(mu_);
  return stats_;
}

std::string ShardTiering::StatLines() const {
  const TieringStats s = stats();
  std::string out;
  AppendStat(&out, "tier.enabled", "1");
  AppendStat(&out, "tier.freezes", std::to_string(s.freezes));
  AppendStat(&out, "tier.flushed", std::to_string(s.flushed));
  AppendStat(&out, "tier.flush_failures", std::to_string(s.flush_failures));
  AppendStat(&out, "tier.flushed_bytes", std::to_string(s.flushed_bytes));
  AppendStat(&out, "tier.lookups", std::to_string(s.lookups));
  AppendStat(&out, "tier.direct_lookups", std::to_string(s.direct_lookups));
  AppendStat(&out, "tier.lookup_failures", std::to_string(s.lookup_failures));
  AppendStat(&out, "tier.parked_answered", std::to_string(s.parked_answered));
  AppendStat(&out, "tier.parked_failed", std::to_string(s.parked_failed));
  AppendStat(&out, "tier.refetches", std::to_string(s.refetches));
  return out;
}

}  // namespace wave::kv
