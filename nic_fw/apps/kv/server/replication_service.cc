#include "kv/server/replication_service.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <random>
#include <thread>

#include "kv/replication/log.h"
#include "kv/replication/replica.h"
#include "rpc/peer_mesh.h"

namespace wave::kv {
namespace {

// What the log holds for one write: who submitted it (replica and incarnation, so a replay
// after a restart never answers a request of the previous process) and the op.
struct LoggedWrite {
  uint64_t incarnation = 0;
  uint32_t origin = 0;
  uint64_t token = 0;
  KvOp op;
};

std::string EncodeLogged(const LoggedWrite& w) {
  std::string out(20, '\0');
  std::memcpy(out.data(), &w.incarnation, 8);
  std::memcpy(out.data() + 8, &w.origin, 4);
  std::memcpy(out.data() + 12, &w.token, 8);
  std::vector<std::byte> op = EncodeOp(w.op);
  out.append(reinterpret_cast<const char*>(op.data()), op.size());
  return out;
}

bool DecodeLogged(std::span<const std::byte> in, LoggedWrite* w) {
  if (in.size() < 20)
    return false;
  std::memcpy(&w->incarnation, in.data(), 8);
  std::memcpy(&w->origin, in.data() + 8, 4);
  std::memcpy(&w->token, in.data() + 12, 8);
  return DecodeOp(in.subspan(20), &w->op);
}

constexpr auto kCommitTimeout = std::chrono::seconds(5);

std::span<const std::byte> Bytes(const std::string& s) {
  return std::as_bytes(std::span<const char>(s.data(), s.size()));
}

}  // namespace

bool ParseReplicasOption(const std::string& text, ReplicationConfig* cfg, std::string* error) {
  size_t at = text.find('@');
  if (at == std::string::npos || at == 0) {
    *error = "--kv-replicas wants INDEX@ADDR:PORT,ADDR:PORT,..., got '" + text + "'";
    return false;
  }
  char* end = nullptr;
  unsigned long self = std::strtoul(text.c_str(), &end, 10);
  if (end != text.c_str() + at) {
    *error = "--kv-replicas: bad replica index in '" + text + "'";
    return false;
  }
  cfg->peers.clear();
  size_t pos = at + 1;
  while (pos <= text.size()) {
    size_t comma = text.find(',', pos);
    std::string peer = text.substr(pos, comma == std::string::npos ? comma : comma - pos);
    std::string addr;
    int port;
    if (!rpc::PeerMesh::SplitEndpoint(peer, &addr, &port)) {
      *error = "--kv-replicas: bad peer address '" + peer + "' (ADDR:PORT)";
      return false;
    }
    cfg->peers.push_back(peer);
    if (comma == std::string::npos)
      break;
    pos = comma + 1;
  }
  if (cfg->peers.size() < 3 || cfg->peers.size() % 2 == 0 || self >= cfg->peers.size()) {
    *error = "--kv-replicas: an odd number of replicas, at least 3, and an index among them";
    return false;
  }
  cfg->self = static_cast<uint32_t>(self);
  return true;
}

class ReplicationService::Impl : public repl::Env {
 public:
  Impl(const ReplicationConfig& cfg, Apply apply,
       std::function<void(uint64_t, std::string)> refused)
      : cfg_(cfg), apply_(std::move(apply)), refused_(std::move(refused)) {
    std::random_device rd;
    incarnation_ =
        (static_cast<uint64_t>(rd()) << 32) ^ rd() ^
        static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }

  ~Impl() override {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable())
      thread_.join();
    mesh_.reset();
  }

  nic::Status Open() {
    repl::Status ls = repl::FileLog::Open(cfg_.log_path, &log_);
    if (ls != repl::Status::kOk || !log_)
      return nic::Status::Error("replication log " + cfg_.log_path + ": " + repl::StatusName(ls));
    repl::ReplicaConfig rc;
    rc.self = cfg_.self;
    rc.n = static_cast<uint32_t>(cfg_.peers.size());
    rc.heartbeat_ticks = cfg_.heartbeat_ticks;
    rc.view_change_timeout_ticks = cfg_.view_change_ticks;
    // Replays the log's committed prefix through apply() into the (fresh) shards.
    replica_ = std::make_unique<repl::Replica>(rc, *log_, *this);
    Publish();
    nic::Status st = nic::Status::Ok();
    mesh_ = rpc::PeerMesh::Start(
        {.self = cfg_.self, .peers = cfg_.peers},
        [this](uint32_t from, std::string payload) {
          Enqueue({Event::kPeer, from, 0, std::move(payload)});
        },
        &st);
    if (!mesh_)
      return st;
    thread_ = std::thread([this] { Run(); });
    return nic::Status::Ok();
  }

  bool Submit(uint64_t token, const KvOp& op) {
    if (!primary_now_.load(std::memory_order_acquire))
      return false;
    LoggedWrite w{incarnation_, cfg_.self, token, op};
    Enqueue({Event::kSubmit, 0, token, EncodeLogged(w)});
    return true;
  }

  bool IsPrimary() const { return primary_now_.load(std::memory_order_acquire); }
  uint32_t Primary() const { return primary_.load(std::memory_order_acquire); }
  const std::string& PeerAddress(uint32_t r) const { return cfg_.peers.at(r); }

  std::string StatLines() const {
    std::lock_guard lock(stats_mu_);
    return stat_lines_;
  }

  // repl::Env, on the replication thread (and in the constructor's replay).
  void send(uint32_t to, std::span<const std::byte> msg) override {
    if (mesh_)
      mesh_->Send(to, std::string_view(reinterpret_cast<const char*>(msg.data()), msg.size()));
  }
  void apply(uint64_t op_number, std::span<const std::byte> op) override {
    LoggedWrite w;
    if (!DecodeLogged(op, &w)) {
      ++undecodable_;
      return;
    }
    w.op.op_number = op_number;  // the shards record it; flushed batches say what they cover
    const bool mine = w.origin == cfg_.self && w.incarnation == incarnation_;
    if (mine)
      waiting_.erase(w.token);
    apply_(w.op, mine ? w.token : 0);
  }
  void on_client_reply(uint64_t client_token, uint64_t op_number) override {
    // The client's answer is the shard's result, sent once apply() ran the write.
    (void)client_token;
    (void)op_number;
  }

 private:
  struct Event {
    enum Kind : uint8_t { kPeer, kSubmit } kind;
    uint32_t from;
    uint64_t token;
    std::string bytes;
  };

  void Enqueue(Event e) {
    {
      std::lock_guard lock(mu_);
      events_.push_back(std::move(e));
    }
    cv_.notify_one();
  }

  void Run() {
    const auto tick = std::chrono::milliseconds(cfg_.tick_ms);
    auto next_tick = std::chrono::steady_clock::now() + tick;
    std::deque<Event> batch;
    while (true) {
      {
        std::unique_lock lock(mu_);
        cv_.wait_until(lock, next_tick, [&] { return stop_ || !events_.empty(); });
        if (stop_)
          return;
        batch.swap(events_);
      }
      bool submitted = false;
      for (Event& e : batch) {
        submitted |= e.kind == Event::kSubmit;
        if (e.kind == Event::kPeer) {
          replica_->receive(e.from, Bytes(e.bytes));
        } else if (repl::Status st = replica_->submit(e.token, Bytes(e.bytes));
                   st == repl::Status::kOk) {
          waiting_[e.token] = std::chrono::steady_clock::now() + kCommitTimeout;
        } else {
          refused_(e.token, st == repl::Status::kTooLarge
                                ? "SERVER_ERROR object too large for the replicated log\r\n"
                                : "SERVER_ERROR not the primary any more\r\n");
        }
      }
      batch.clear();
      // The primary's own copy counts once synced: sync now rather than at the next tick.
      if (submitted)
        replica_->flush();
      if (std::chrono::steady_clock::now() >= next_tick) {
        replica_->tick();
        ExpireWaiting();
        next_tick += tick;
        if (next_tick < std::chrono::steady_clock::now())
          next_tick = std::chrono::steady_clock::now() + tick;
      }
      Publish();
    }
  }

  // A write that was logged but has not committed in time (its primary lost the majority):
  // the client is told, rather than left waiting. If it commits later after all, its result
  // finds nobody waiting and is dropped, and a read shows it.
  void ExpireWaiting() {
    const auto now = std::chrono::steady_clock::now();
    for (auto it = waiting_.begin(); it != waiting_.end();) {
      if (it->second > now) {
        ++it;
        continue;
      }
      ++timed_out_;
      refused_(
          it->first,
          "SERVER_ERROR the write was not committed in time; it may or may not be applied\r\n");
      it = waiting_.erase(it);
    }
  }

  void Publish() {
    primary_now_.store(replica_->is_primary(), std::memory_order_release);
    primary_.store(replica_->primary(), std::memory_order_release);
    const repl::ReplicaStats s = replica_->stats();
    std::string out;
    auto stat = [&out](const std::string& k, const std::string& v) {
      out += "STAT repl." + k + " " + v + "\r\n";
    };
    stat("enabled", "1");
    stat("self", std::to_string(cfg_.self));
    stat("replicas", std::to_string(cfg_.peers.size()));
    stat("role", replica_->is_primary() ? "primary" : "backup");
    stat("status", repl::ReplicaStatusName(replica_->status()));
    stat("primary", std::to_string(replica_->primary()));
    stat("primary_peer", cfg_.peers[replica_->primary()]);
    stat("view", std::to_string(replica_->view()));
    stat("commit", std::to_string(replica_->commit_number()));
    stat("last_op", std::to_string(replica_->last_op()));
    stat("view_changes", std::to_string(s.view_changes));
    stat("committed", std::to_string(s.ops_committed));
    stat("dropped_messages", std::to_string(s.dropped_bad + s.dropped_stale));
    stat("undecodable_ops", std::to_string(undecodable_));
    stat("writes_waiting", std::to_string(waiting_.size()));
    stat("writes_timed_out", std::to_string(timed_out_));
    std::lock_guard lock(stats_mu_);
    stat_lines_ = std::move(out);
  }

  ReplicationConfig cfg_;
  Apply apply_;
  std::function<void(uint64_t, std::string)> refused_;
  uint64_t incarnation_ = 0;
  std::unique_ptr<repl::FileLog> log_;
  std::unique_ptr<repl::Replica> replica_;
  std::unique_ptr<rpc::PeerMesh> mesh_;
  std::thread thread_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Event> events_;
  bool stop_ = false;
  std::atomic<bool> primary_now_{false};
  std::atomic<uint32_t> primary_{0};
  uint64_t undecodable_ = 0;
  // Replication thread only: this incarnation's logged writes not yet applied, by token.
  std::map<uint64_t, std::chrono::steady_clock::time_point> waiting_;
  uint64_t timed_out_ = 0;
  mutable std::mutex stats_mu_;
  std::string stat_lines_;
};

ReplicationService::ReplicationService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ReplicationService::~ReplicationService() = default;

std::unique_ptr<ReplicationService> ReplicationService::Start(
    const ReplicationConfig& cfg, Apply apply, std::function<void(uint64_t, std::string)> refused,
    nic::Status* status) {
  auto impl = std::make_unique<Impl>(cfg, std::move(apply), std::move(refused));
  nic::Status s = impl->Open();
  if (status != nullptr)
    *status = s;
  if (!s.ok())
    return nullptr;
  return std::unique_ptr<ReplicationService>(new ReplicationService(std::move(impl)));
}

bool ReplicationService::Submit(uint64_t token, const KvOp& op) {
  return impl_->Submit(token, op);
}
bool ReplicationService::IsPrimary() const {
  return impl_->IsPrimary();
}
uint32_t ReplicationService::Primary() const {
  return impl_->Primary();
}
const std::string& ReplicationService::PeerAddress(uint32_t replica) const {
  return impl_->PeerAddress(replica);
}
std::string ReplicationService::StatLines() const {
  return impl_->StatLines();
}

}  // namespace wave::kv
