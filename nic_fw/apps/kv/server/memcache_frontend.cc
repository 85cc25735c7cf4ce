#include "kv/server/memcache_frontend.h"

#include <unistd.h>

#include <ctime>
#include <utility>

namespace wave::kv {
namespace {

constexpr uint64_t kIndexBits = 12;  // request id = pending id << 12 | sub-op index
constexpr size_t kMaxSubOps = size_t{1} << kIndexBits;
constexpr char kVersion[] = "1.6.0-wave";

const char* ResultLine(KvResultCode code) {
  switch (code) {
    case KvResultCode::kStored:
      return "STORED";
    case KvResultCode::kNotStored:
      return "NOT_STORED";
    case KvResultCode::kExists:
      return "EXISTS";
    case KvResultCode::kNotFound:
      return "NOT_FOUND";
    case KvResultCode::kDeleted:
      return "DELETED";
    case KvResultCode::kTouched:
      return "TOUCHED";
    case KvResultCode::kOk:
      return "OK";
    case KvResultCode::kNonNumeric:
      return "CLIENT_ERROR cannot increment or decrement non-numeric value";
    case KvResultCode::kOutOfMemory:
      return "SERVER_ERROR out of memory storing object";
    case KvResultCode::kTooLarge:
      return "SERVER_ERROR object too large for cache";
    case KvResultCode::kUnavailable:
      return "SERVER_ERROR host storage unavailable";
    default:
      return "SERVER_ERROR internal error";
  }
}

bool IsGet(Op op) {
  return op == Op::kGet || op == Op::kGets || op == Op::kGat || op == Op::kGats;
}

KvOpCode StorageCode(Op op) {
  switch (op) {
    case Op::kAdd:
      return KvOpCode::kAdd;
    case Op::kReplace:
      return KvOpCode::kReplace;
    case Op::kAppend:
      return KvOpCode::kAppend;
    case Op::kPrepend:
      return KvOpCode::kPrepend;
    case Op::kCas:
      return KvOpCode::kCas;
    case Op::kDelete:
      return KvOpCode::kDelete;
    case Op::kIncr:
      return KvOpCode::kIncr;
    case Op::kDecr:
      return KvOpCode::kDecr;
    case Op::kTouch:
      return KvOpCode::kTouch;
    default:
      return KvOpCode::kSet;
  }
}

}  // namespace

// One client request in flight: its reply slot and the results of its shard ops.
struct MemcacheFrontend::Pending {
  uint64_t id = 0;
  rpc::NetPort* port = nullptr;
  rpc::ConnId conn = 0;
  uint64_t slot = 0;
  Request req;
  std::vector<KvResult> results;
  std::vector<uint8_t> failed;  // per sub-op: the runtime could not run it
  std::atomic<size_t> waiting{0};
};

MemcacheFrontend::MemcacheFrontend(ShardSet shards, ParseLimits limits)
    : shards_(std::move(shards)),
      limits_(limits),
      started_s_(static_cast<int64_t>(std::time(nullptr))) {}

MemcacheFrontend::~MemcacheFrontend() = default;

size_t MemcacheFrontend::ShardOf(const std::string& key) const {
  // The memtable indexes buckets by the hash's low bits; the shard takes the high ones.
  return (KeyHash(key) >> 32) % shards_.shards.size();
}

rpc::Handler::Input MemcacheFrontend::OnInput(rpc::ConnId conn, std::string& in,
                                              rpc::NetPort& port) {
  auto [state, is_new] = connections_.try_emplace(conn);
  if (is_new) {
    std::lock_guard lock(stats_mu_);
    ++stats_.total_connections;
    ++stats_.curr_connections;
  }
  size_t used = std::min(state->second.swallow, in.size());
  state->second.swallow -= used;
  Input result = Input::kContinue;
  while (used < in.size()) {
    Request req;
    ParseResult r = ParseRequest(std::string_view(in).substr(used), limits_, &req);
    if (r.status == ParseStatus::kNeedMore)
      break;
    used += r.consumed;
    state->second.swallow = r.swallow;
    {
      std::lock_guard lock(stats_mu_);
      ++stats_.requests;
      if (r.status == ParseStatus::kError)
        ++stats_.protocol_errors;
    }
    if (r.status == ParseStatus::kError) {
      port.Complete(conn, port.Reserve(conn), std::move(r.error_reply));
      if (r.close_connection) {
        result = Input::kClose;
        break;
      }
      continue;
    }
    if (req.op == Op::kQuit) {
      result = Input::kClose;
      break;
    }
    Dispatch(conn, std::move(req), port);
  }
  in.erase(0, used);
  if (result == Input::kClose)
    in.clear();
  return result;
}

void MemcacheFrontend::OnClosed(rpc::ConnId conn) {
  if (connections_.erase(conn) != 0) {
    std::lock_guard lock(stats_mu_);
    --stats_.curr_connections;
  }
}

void MemcacheFrontend::Dispatch(rpc::ConnId conn, Request&& req, rpc::NetPort& port) {
  const uint64_t slot = port.Reserve(conn);
  std::string line;
  switch (req.op) {
    case Op::kVersion:
      port.Complete(conn, slot, std::string("VERSION ") + kVersion + "\r\n");
      return;
    case Op::kVerbosity:
      port.Complete(conn, slot, req.noreply ? "" : "OK\r\n");
      return;
    case Op::kStats:
      if (req.stats_arg == "reset") {
        // Counters here are cumulative, like the shards'; reset is acknowledged as memcached
        // does, without clearing history the operator reads from status.
        port.Complete(conn, slot, "RESET\r\n");
        return;
      }
      if (req.stats_arg == "wave" && shards_.wave_stats) {
        port.Complete(conn, slot, shards_.wave_stats() + "END\r\n");
        return;
      }
      if (!req.stats_arg.empty()) {
        port.Complete(conn, slot,
                      req.stats_arg == "settings" || req.stats_arg == "items" ||
                              req.stats_arg == "slabs" || req.stats_arg == "sizes" ||
                              req.stats_arg == "conns"
                          ? "END\r\n"
                          : "ERROR\r\n");
        return;
      }
      break;
    default:
      break;
  }

  auto p = std::make_shared<Pending>();
  p->port = &port;
  p->conn = conn;
  p->slot = slot;
  p->req = std::move(req);
  std::vector<std::pair<KvOp, size_t>> ops;  // op and its shard
  const Request& r = p->req;
  if (IsGet(r.op)) {
    const bool touch = r.op == Op::kGat || r.op == Op::kGats;
    for (const std::string& key : r.keys)
      ops.push_back(
          {KvOp{.code = touch ? KvOpCode::kGat : KvOpCode::kGet, .exptime = r.exptime, .key = key},
           ShardOf(key)});
    std::lock_guard lock(stats_mu_);
    stats_.cmd_get += r.keys.size();
    if (touch)
      stats_.cmd_touch += r.keys.size();
  } else if (r.op == Op::kFlushAll || r.op == Op::kStats) {
    KvOp op{.code = r.op == Op::kStats ? KvOpCode::kShardStats : KvOpCode::kFlushAll,
            .delay_s = r.has_flush_delay ? r.flush_delay : 0};
    for (size_t s = 0; s < shards_.shards.size(); ++s)
      ops.push_back({op, s});
    if (r.op == Op::kFlushAll) {
      std::lock_guard lock(stats_mu_);
      ++stats_.cmd_flush;
    }
  } else {
    if (r.keys.size() != 1) {
      port.Complete(conn, slot, "CLIENT_ERROR bad command line format\r\n");
      return;
    }
    ops.push_back({KvOp{.code = StorageCode(r.op),
                        .flags = r.flags,
                        .exptime = r.exptime,
                        .cas_unique = r.cas_unique,
                        .delta = r.delta,
                        .key = r.keys[0],
                        .value = r.value},
                   ShardOf(r.keys[0])});
    std::lock_guard lock(stats_mu_);
    if (r.op == Op::kTouch)
      ++stats_.cmd_touch;
    else if (r.op != Op::kDelete && r.op != Op::kIncr && r.op != Op::kDecr)
      ++stats_.cmd_set;
  }
  if (ops.empty() || ops.size() > kMaxSubOps) {
    port.Complete(conn, slot, "CLIENT_ERROR bad command line format\r\n");
    return;
  }
  p->results.resize(ops.size());
  p->failed.assign(ops.size(), 0);
  p->waiting = ops.size();
  {
    std::lock_guard lock(mu_);
    p->id = next_pending_++;
    pending_.emplace(p->id, p);
  }
  const bool touches = r.op == Op::kGat || r.op == Op::kGats;
  if (shards_.replicate && r.op != Op::kStats && (!IsGet(r.op) || touches)) {
    // Writes (and gat, which moves expiry) go through the log, one entry per key, each
    // carrying the primary's clock; a flush_all is one entry that fans out when applied.
    const uint64_t base = p->id << kIndexBits;
    const int64_t now = static_cast<int64_t>(std::time(nullptr));
    const size_t entries = r.op == Op::kFlushAll ? 1 : ops.size();
    for (size_t i = 0; i < entries; ++i) {
      KvOp op = ops[i].first;
      op.now_s = now;
      if (shards_.replicate(base | i, op))
        continue;
      if (i == 0) {
        Refuse(base,
               shards_.not_primary ? shards_.not_primary() : "SERVER_ERROR not the primary\r\n");
        return;
      }
      OnShardReply(rt::Reply{.request_id = base | i, .status = rt::Status::kInvalid});
    }
    return;
  }
  for (size_t i = 0; i < ops.size(); ++i)
    Send(p, i, ops[i].first, ops[i].second);
}

void MemcacheFrontend::Send(const std::shared_ptr<Pending>& p, size_t index, const KvOp& op,
                            size_t shard) {
  const uint64_t request_id = (p->id << kIndexBits) | index;
  rt::Message msg{.request_id = request_id,
                  .dst = shards_.shards[shard],
                  .kind = kKvOpKind,
                  .payload = EncodeOp(op)};
  if (shards_.run_inline && shards_.run_inline(msg)) {
    ops_inline_.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  ops_posted_.fetch_add(1, std::memory_order_relaxed);
  rt::Status s = shards_.post(std::move(msg));
  if (s != rt::Status::kOk) {
    // Not accepted, so the runtime will never answer it: answer it here as failed.
    OnShardReply(rt::Reply{.request_id = request_id, .status = s});
  }
}

void MemcacheFrontend::OnShardReply(rt::Reply&& reply) {
  std::shared_ptr<Pending> p;
  const uint64_t id = reply.request_id >> kIndexBits;
  const size_t index = reply.request_id & (kMaxSubOps - 1);
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(id);
    if (it == pending_.end())
      return;
    p = it->second;
  }
  if (index >= p->results.size())
    return;
  if (reply.status != rt::Status::kOk || !DecodeResult(reply.payload, &p->results[index])) {
    p->failed[index] = 1;
    std::lock_guard lock(stats_mu_);
    ++stats_.shard_failures;
  }
  if (p->waiting.fetch_sub(1) == 1) {
    {
      std::lock_guard lock(mu_);
      pending_.erase(id);
    }
    Finish(*p);
  }
}

void MemcacheFrontend::Refuse(uint64_t token, std::string reply) {
  std::shared_ptr<Pending> p;
  {
    std::lock_guard lock(mu_);
    auto it = pending_.find(token >> kIndexBits);
    if (it == pending_.end())
      return;
    p = std::move(it->second);
    pending_.erase(it);
  }
  p->port->Complete(p->conn, p->slot, p->req.noreply ? "" : std::move(reply));
}

void MemcacheFrontend::Finish(Pending& p) {
  p.port->Complete(p.conn, p.slot, Format(p));
}

std::string MemcacheFrontend::Format(const Pending& p) {
  const Request& r = p.req;
  if (r.fixed_reply)
    return *r.fixed_reply;
  for (uint8_t f : p.failed) {
    if (f)
      return r.noreply ? "" : "SERVER_ERROR shard unavailable\r\n";
  }
  std::string out;
  if (IsGet(r.op)) {
    const bool with_cas = r.op == Op::kGets || r.op == Op::kGats;
    for (size_t i = 0; i < r.keys.size(); ++i) {
      const KvResult& res = p.results[i];
      if (res.code == KvResultCode::kHit)
        AppendValue(&out, r.keys[i], res.flags, res.value, with_cas ? &res.cas : nullptr);
      else if (res.code != KvResultCode::kMiss)
        return std::string(ResultLine(res.code)) + "\r\n";
    }
    AppendLine(&out, "END");
    return out;
  }
  if (r.op == Op::kStats)
    return FormatStats(p);
  if (r.op == Op::kFlushAll) {
    for (const KvResult& res : p.results) {
      if (res.code != KvResultCode::kOk)
        return r.noreply ? "" : "SERVER_ERROR internal error\r\n";
    }
    return r.noreply ? "" : "OK\r\n";
  }
  const KvResult& res = p.results[0];
  if (r.noreply)
    return "";
  if (res.code == KvResultCode::kNumber)
    AppendLine(&out, std::to_string(res.number));
  else
    AppendLine(&out, ResultLine(res.code));
  return out;
}

std::string MemcacheFrontend::FormatStats(const Pending& p) {
  ShardStats sum;
  for (const KvResult& res : p.results) {
    const ShardStats& s = res.stats;
    sum.items += s.items;
    sum.bytes += s.bytes;
    sum.get_hits += s.get_hits;
    sum.get_misses += s.get_misses;
    sum.sets += s.sets;
    sum.deletes += s.deletes;
    sum.cas_hits += s.cas_hits;
    sum.cas_badval += s.cas_badval;
    sum.cas_misses += s.cas_misses;
    sum.incr_hits += s.incr_hits;
    sum.incr_misses += s.incr_misses;
    sum.decr_hits += s.decr_hits;
    sum.decr_misses += s.decr_misses;
    sum.touches += s.touches;
    sum.expired += s.expired;
    sum.oom += s.oom;
  }
  const FrontendStats f = stats();
  const int64_t now = static_cast<int64_t>(std::time(nullptr));
  std::string out;
  auto stat = [&out](const char* name, auto value) {
    if constexpr (std::is_convertible_v<decltype(value), std::string_view>)
      AppendStat(&out, name, value);
    else
      AppendStat(&out, name, std::to_string(value));
  };
  stat("pid", static_cast<int64_t>(getpid()));
  stat("uptime", now - started_s_);
  stat("time", now);
  stat("version", kVersion);
  stat("pointer_size", static_cast<int>(sizeof(void*) * 8));
  stat("curr_connections", f.curr_connections);
  stat("total_connections", f.total_connections);
  stat("cmd_get", f.cmd_get);
  stat("cmd_set", f.cmd_set);
  stat("cmd_flush", f.cmd_flush);
  stat("cmd_touch", f.cmd_touch);
  stat("get_hits", sum.get_hits);
  stat("get_misses", sum.get_misses);
  stat("get_expired", sum.expired);
  stat("delete_hits", sum.deletes);
  stat("incr_hits", sum.incr_hits);
  stat("incr_misses", sum.incr_misses);
  stat("decr_hits", sum.decr_hits);
  stat("decr_misses", sum.decr_misses);
  stat("cas_hits", sum.cas_hits);
  stat("cas_misses", sum.cas_misses);
  stat("cas_badval", sum.cas_badval);
  stat("touch_hits", sum.touches);
  stat("curr_items", sum.items);
  stat("bytes", sum.bytes);
  stat("evictions", 0);
  stat("out_of_memory", sum.oom);
  stat("threads", static_cast<uint64_t>(shards_.shards.size()));
  AppendLine(&out, "END");
  return out;
}

FrontendStats MemcacheFrontend::stats() const {
  FrontendStats out;
  {
    std::lock_guard lock(stats_mu_);
    out = stats_;
  }
  out.shard_ops_inline = ops_inline_.load(std::memory_order_relaxed);
  out.shard_ops_posted = ops_posted_.load(std::memory_order_relaxed);
  return out;
}

}  // namespace wave::kv
