#include "kv/server/kv_server.h"

#include <algorithm>
#include <thread>

#include "base/program.h"
#include "kv/store/kv_actor.h"

namespace wave::kv {
namespace {

// Committed writes of one shard that may wait for room (CommittedApplier) before the primary
// refuses new ones for that shard.
constexpr size_t kMaxWaitingWrites = 4096;

}  // namespace

bool ParseKvOption(const std::string& text, KvServerConfig* cfg, std::string* error) {
  size_t comma = text.find(',');
  std::string endpoint = text.substr(0, comma);
  size_t colon = endpoint.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    *error = "--kv wants ADDR:PORT, got '" + endpoint + "'";
    return false;
  }
  std::string addr = endpoint.substr(0, colon);
  if (addr.size() > 2 && addr.front() == '[' && addr.back() == ']')
    addr = addr.substr(1, addr.size() - 2);
  uint32_t port;
  if (!nic::ParseU32(endpoint.substr(colon + 1), 0, 65535, &port)) {
    *error = "--kv: bad port in '" + endpoint + "'";
    return false;
  }
  cfg->net.address = addr;
  cfg->net.tcp_port = static_cast<int>(port);
  while (comma != std::string::npos) {
    size_t next = text.find(',', comma + 1);
    std::string item = text.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
    comma = next;
    size_t eq = item.find('=');
    std::string key = item.substr(0, eq);
    std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
    uint32_t n;
    uint64_t bytes;
    if (key == "udp" && nic::ParseU32(value, 0, 65535, &n)) {
      cfg->net.udp_port = static_cast<int>(n);
    } else if (key == "shards" && nic::ParseU32(value, 1, 64, &n)) {
      cfg->shards = n;
    } else if (key == "mem" && nic::ParseSize(value, &bytes) && bytes >= (1 << 20)) {
      cfg->shard_mem_bytes = bytes;
    } else if (key == "storage" && !value.empty()) {
      cfg->storage_link = value;
    } else if (key == "flush" && nic::ParseSize(value, &bytes) && bytes >= (4 << 10)) {
      cfg->tiering.flush_threshold = bytes;
    } else if (key == "inline" && (value == "0" || value == "1")) {
      cfg->run_inline = value == "1";
    } else {
      *error = "--kv: bad setting '" + item +
               "' (udp=PORT, shards=1..64, mem=BYTES of at least 1M per shard, storage=PATH "
               "of wave-kv-host's --storage-link, flush=BYTES of at least 4K, inline=0|1)";
      return false;
    }
  }
  return true;
}

std::unique_ptr<KvServer> KvServer::Start(const KvServerConfig& cfg, RuntimeAccess access,
                                          nic::Status* status) {
  auto fail = [status](std::string why) {
    if (status != nullptr)
      *status = nic::Status::Error(std::move(why));
    return nullptr;
  };
  if (access.runtime == nullptr || access.registry == nullptr || !access.route || !access.unroute)
    return fail("kv: no runtime to run the shards in");
  if (cfg.shards == 0)
    return fail("kv: at least one shard");
  rt::ActorType existing;
  if (!access.registry->find(kMemtableActorType, &existing))
    access.registry->register_type(MemtableActorType());

  std::unique_ptr<KvServer> server(new KvServer());
  server->access_ = access;
  for (uint32_t i = 0; i < cfg.shards; ++i) {
    rt::ActorId id;
    rt::Status s = access.runtime->create_actor({.type = kMemtableActorType,
                                                 .name = "kv.shard" + std::to_string(i),
                                                 .mem_cap_bytes = cfg.shard_mem_bytes},
                                                &id);
    if (s != rt::Status::kOk)
      return fail(std::string("kv: cannot create shard actor: ") + rt::status_name(s));
    server->shards_.push_back(id);
  }
  rt::Runtime* runtime = access.runtime;
  KvServer* raw = server.get();
  ShardSet shard_set{server->shards_,
                     [runtime](rt::Message&& m) { return runtime->post(std::move(m)); }, nullptr,
                     [raw] { return raw->WaveStats(); }};
  if (cfg.run_inline) {
    server->port_core_ = runtime->open_inline_core();
    if (!server->port_core_)
      return fail("kv: the runtime lends no core to the port (not started?)");
    shard_set.run_inline = [raw](rt::Message& m) {
      raw->inline_busy_.store(true);
      bool ran = false;
      if (!raw->inline_closed_.load() &&
          raw->port_core_->run(m, &raw->inline_reply_) == rt::Status::kOk) {
        raw->deliver_(std::move(raw->inline_reply_));
        ran = true;
      }
      raw->inline_busy_.store(false);
      return ran;
    };
  }
  server->frontend_ = std::make_unique<MemcacheFrontend>(std::move(shard_set), cfg.limits);
  MemcacheFrontend* fe = server->frontend_.get();
  CommittedApplier* applier = nullptr;
  if (cfg.replicated) {
    server->applier_ = std::make_unique<CommittedApplier>(
        server->shards_, [runtime](rt::Message&& m) { return runtime->post(std::move(m)); },
        [fe](const std::string& key) { return fe->ShardOf(key); });
    applier = server->applier_.get();
  }
  // Every shard reply passes the applier (a committed write it will post again stops there).
  auto to_frontend = [applier, fe](rt::Reply&& r) {
    if (applier == nullptr || !applier->OnReply(r))
      fe->OnShardReply(std::move(r));
  };
  if (!cfg.storage_link.empty() && cfg.storage == nullptr)
    return fail("kv: storage=" + cfg.storage_link + " was not opened");
  if (cfg.storage != nullptr) {
    // The tier sits between the shards and the front end; it must know what the host holds
    // before the log is replayed (ops it already holds are skipped).
    TieringConfig tc = cfg.tiering;
    if (tc.flush_threshold == 0)
      tc.flush_threshold = std::max<uint64_t>(cfg.shard_mem_bytes / 8, 4 << 10);
    server->storage_ = cfg.storage;
    server->tiering_ = std::make_unique<ShardTiering>(
        *cfg.storage, server->shards_,
        [runtime](rt::Message&& m) { return runtime->post(std::move(m)); }, to_frontend, tc);
    ShardTiering* tier = server->tiering_.get();
    if (applier != nullptr)
      tier->SetFlushListener([applier](size_t shard) { applier->OnRoom(shard); });
    server->deliver_ = [tier](rt::Reply&& r) { tier->OnReply(std::move(r)); };
    for (rt::ActorId id : server->shards_)
      access.route(id, server->deliver_);
    Result<std::vector<uint64_t>> covered = tier->Start();
    if (!covered.ok())
      return fail("kv: " + covered.error().message);
    if (applier != nullptr)
      applier->SetCovered(std::move(*covered));
  } else {
    server->deliver_ = to_frontend;
    for (rt::ActorId id : server->shards_)
      access.route(id, server->deliver_);
  }
  if (cfg.replicated) {
    // The log is replayed into the shards before the port takes any client.
    nic::Status rs = nic::Status::Ok();
    server->replication_ = ReplicationService::Start(
        cfg.replication, [applier](const KvOp& op, uint64_t token) { applier->Apply(op, token); },
        [fe](uint64_t token, std::string reply) { fe->Refuse(token, std::move(reply)); }, &rs);
    if (!server->replication_)
      return fail("kv: " + rs.message());
    ReplicationService* repl = server->replication_.get();
    server->replication_stats_ = [repl] { return repl->StatLines(); };
    fe->SetReplication(
        [repl, applier, fe](uint64_t token, const KvOp& op) {
          // Back-pressure before the log: once in it, a write must be applied everywhere.
          if (op.code != KvOpCode::kFlushAll &&
              applier->Waiting(fe->ShardOf(op.key)) >= kMaxWaitingWrites) {
            fe->Refuse(token, "SERVER_ERROR out of memory storing object\r\n");
            return true;
          }
          return repl->Submit(token, op);
        },
        [repl] {
          return "SERVER_ERROR not the primary; the primary is replica " +
                 std::to_string(repl->Primary()) + " (peer " + repl->PeerAddress(repl->Primary()) +
                 ")\r\n";
        });
  }
  nic::Status s = nic::Status::Ok();
  server->port_ = rpc::NetPort::Start(cfg.net, *server->frontend_, &s);
  if (!server->port_)
    return fail("kv: " + s.message());
  if (status != nullptr)
    *status = nic::Status::Ok();
  return server;
}

std::string KvServer::WaveStats() const {
  std::string out;
  auto stat = [&out](const std::string& name, const std::string& value) {
    AppendStat(&out, name, value);
  };
  const rt::RuntimeStats rs = access_.runtime->stats();
  stat("shards", std::to_string(shards_.size()));
  for (size_t i = 0; i < shards_.size(); ++i) {
    const std::string p = "shard." + std::to_string(i) + ".";
    stat(p + "actor", std::to_string(shards_[i]));
    for (const rt::ActorStats& a : rs.actors) {
      if (a.id != shards_[i])
        continue;
      const char* where = "nic";
      switch (a.sched.location) {
        case rt::ActorLocation::kNic:
          break;
        case rt::ActorLocation::kMigratingOut:
          where = "to-host";
          break;
        case rt::ActorLocation::kHost:
          where = "host";
          break;
        case rt::ActorLocation::kReturning:
          where = "to-nic";
          break;
      }
      stat(p + "name", a.name);
      stat(p + "where", where);
      stat(p + "group", a.sched.group == rt::CoreGroup::kDrr ? "drr" : "fcfs");
      stat(p + "processed", std::to_string(a.sched.processed));
      stat(p + "queued", std::to_string(a.sched.queued));
      stat(p + "latency_mean_ns", std::to_string(static_cast<uint64_t>(a.sched.latency_mean_ns)));
      stat(p + "latency_tail_ns", std::to_string(static_cast<uint64_t>(a.sched.latency_tail_ns)));
      stat(p + "mem_used", std::to_string(a.mem.used_bytes));
      stat(p + "mem_cap", std::to_string(a.mem.cap_bytes));
      stat(p + "objects", std::to_string(a.mem.objects));
      stat(p + "migrations", std::to_string(a.migrations));
      stat(p + "quarantined", a.sched.quarantined ? "1" : "0");
    }
  }
  const rpc::NetPortStats n = port_->stats();
  stat("net.tcp_port", std::to_string(port_->tcp_port()));
  stat("net.udp_port", std::to_string(port_->udp_port()));
  stat("net.open", std::to_string(n.open));
  stat("net.accepted", std::to_string(n.accepted));
  stat("net.refused", std::to_string(n.refused));
  stat("net.bytes_in", std::to_string(n.bytes_in));
  stat("net.bytes_out", std::to_string(n.bytes_out));
  stat("net.backpressure_stalls", std::to_string(n.backpressure_stalls));
  stat("net.input_overflows", std::to_string(n.input_overflows));
  stat("net.udp_datagrams", std::to_string(n.udp_datagrams));
  stat("net.udp_bad", std::to_string(n.udp_bad));
  const FrontendStats f = frontend_->stats();
  stat("front.requests", std::to_string(f.requests));
  stat("front.protocol_errors", std::to_string(f.protocol_errors));
  stat("front.shard_failures", std::to_string(f.shard_failures));
  stat("front.ops_inline", std::to_string(f.shard_ops_inline));
  stat("front.ops_posted", std::to_string(f.shard_ops_posted));
  stat("runtime.nic_latency_mean_ns",
       std::to_string(static_cast<uint64_t>(rs.sched.nic_latency_mean_ns)));
  stat("runtime.migrations_out", std::to_string(rs.migrations_out));
  stat("runtime.migrations_in", std::to_string(rs.migrations_in));
  if (replication_stats_)
    out += replication_stats_();
  if (applier_)
    out += applier_->StatLines();
  else
    stat("repl.enabled", "0");
  if (tiering_)
    out += tiering_->StatLines();
  else
    stat("tier.enabled", "0");
  return out;
}

KvServer::~KvServer() {
  // No reply is delivered on the port's thread past this point (it posts instead, and what
  // the runtime answers finds no route below).
  inline_closed_.store(true);
  while (inline_busy_.load())
    std::this_thread::yield();
  // Replication stops first: no committed write is posted to shards that are going away.
  replication_.reset();
  if (applier_)
    applier_->Stop();
  // The shards' replies stop first, then the port (and its connections) goes: a reply that
  // arrives in between finds no route and is dropped, never sent on a freed port.
  for (rt::ActorId id : shards_)
    access_.unroute(id);
  // The tier's storage calls may still answer parked ops through the front end: they finish
  // while the port is still there.
  tiering_.reset();
  port_.reset();
  // The port's thread is gone: nothing runs on its core slot any more.
  port_core_.reset();
  for (rt::ActorId id : shards_)
    access_.runtime->destroy_actor(id);
}

}  // namespace wave::kv
