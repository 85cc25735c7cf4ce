// One replica of Viewstamped Replication Revisited (Liskov & Cowling 2012), adapted to a durable
// log (README.md). Deterministic and single-threaded: it never blocks, owns no socket, thread or
// clock; the embedder feeds it bytes (receive), time (tick) and client writes (submit), and it
// answers through Env. Every call ends by syncing the log once (if it changed) and only then
// sends what depends on durability (PrepareOk, view-change messages, StartView, ...), so the
// many ops of one receive() share one fdatasync.
//
// The apply contract: Env::apply() is called for op 1, 2, 3, ... in order, each exactly once per
// Replica object. The constructor replays the committed prefix of the log through apply() (the
// embedder's state machine is in memory and starts empty), so after a restart the ops applied
// before the crash are applied again into the fresh state, then the rest as they commit.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "kv/replication/log.h"
#include "kv/replication/messages.h"
#include "kv/replication/types.h"

namespace wave::kv::repl {

struct ReplicaConfig {
  uint32_t self = 0;
  uint32_t n = 3;  // replicas 0..n-1; tolerates f = (n-1)/2 failures
  uint64_t heartbeat_ticks = 5;
  uint64_t view_change_timeout_ticks = 50;
  // Entries per DoViewChange, StartView, NewState and RecoveryResponse (1..kMaxTransferEntries;
  // with kMaxTransferBytes). Tests lower it to make every log span many messages.
  uint32_t transfer_entries = kMaxTransferEntries;
};

struct Env {
  virtual void send(uint32_t to, std::span<const std::byte> encoded_msg) = 0;
  virtual void apply(uint64_t op_number, std::span<const std::byte> op) = 0;    // in order, once
  virtual void on_client_reply(uint64_t client_token, uint64_t op_number) = 0;  // leader: committed
  virtual ~Env() = default;
};

enum class ReplicaStatus : uint8_t {
  kNormal,
  kViewChange,
  kRecovering,  // restarted on an existing log: learning the current view from the others
  kTransfer,    // heard of a newer view: waiting for its log (GetState / NewState)
  kFailed,      // the log failed: the replica stopped (fail-stop)
};
const char* ReplicaStatusName(ReplicaStatus s);

struct ReplicaStats {
  std::array<uint64_t, kMsgTypeCount> in{};   // valid messages received, by MsgType
  std::array<uint64_t, kMsgTypeCount> out{};  // messages sent, by MsgType
  uint64_t dropped_bad = 0;      // undecodable, from a bad sender, or self-contradictory
  uint64_t dropped_stale = 0;    // from an older view, or not for the current status/nonce
  uint64_t view_changes = 0;     // view changes this replica started or joined
  uint64_t views_started = 0;    // views it entered in normal status (StartView, as primary too)
  uint64_t recoveries = 0;       // restarts completed through Recovery
  uint64_t state_transfers = 0;  // NewStates taken by a replica catching up
  uint64_t view_change_fetches = 0;  // NewStates a new primary took to complete its log
  uint64_t ops_committed = 0;        // apply() calls, replay included
  uint64_t ops_replayed = 0;         // apply() calls made by the constructor
  uint64_t log_errors = 0;
};

class Replica {
 public:
  // Reads the log, replays its committed prefix through env.apply(), bumps the log's
  // incarnation (synced). A log that has never been used starts normal in view 0; any other
  // starts kRecovering. Nothing is sent before the first tick().
  Replica(const ReplicaConfig& config, Log& log, Env& env);
  Replica(const Replica&) = delete;
  Replica& operator=(const Replica&) = delete;

  void receive(uint32_t from, std::span<const std::byte> bytes);
  void tick();
  // The primary appends `op` and sends Prepares at once; it counts its own copy once synced
  // (at the end of the next receive()/tick()/flush()). on_client_reply(client_token, op) comes
  // when f+1 replicas hold the op durably. Others: kNotPrimary (see primary()).
  // There is no client table: a client that retries may get its write ordered twice.
  Status submit(uint64_t client_token, std::span<const std::byte> op);
  // Syncs and sends what waits for it now (instead of at the next receive or tick).
  void flush();

  bool is_primary() const { return status_ == ReplicaStatus::kNormal && primary() == cfg_.self; }
  uint32_t primary() const { return PrimaryOf(view_); }
  uint64_t view() const { return view_; }
  uint64_t commit_number() const { return commit_; }
  uint64_t last_op() const { return log_.last_op(); }
  ReplicaStatus status() const { return status_; }
  const ReplicaStats& stats() const { return stats_; }

 private:
  static constexpr uint64_t kUnknownOp = UINT64_MAX;

  uint32_t PrimaryOf(uint64_t v) const { return static_cast<uint32_t>(v % cfg_.n); }
  uint32_t f() const { return (cfg_.n - 1) / 2; }
  uint64_t TransferEntries() const {
    return std::clamp<uint64_t>(cfg_.transfer_entries, 1, kMaxTransferEntries);
  }

  void OnPrepare(uint32_t from, const Prepare& m);
  void OnPrepareOk(uint32_t from, const PrepareOk& m);
  void OnCommit(uint32_t from, const Commit& m);
  void OnStartViewChange(uint32_t from, const StartViewChange& m);
  void OnDoViewChange(uint32_t from, DoViewChange&& m);
  void OnStartView(uint32_t from, const StartView& m);
  void OnRecovery(uint32_t from, const Recovery& m);
  void OnRecoveryResponse(uint32_t from, RecoveryResponse&& m);
  void OnGetState(uint32_t from, const GetState& m);
  void OnNewState(uint32_t from, const NewState& m);

  // Normal-status traffic (Prepare, Commit) from the primary of view v; false if the message
  // is not for this replica's current normal view (and starts a state transfer if v is newer).
  bool AcceptNormal(uint32_t from, uint64_t v);
  // kRecovering in a view this replica was changing to but never normal in: it may rejoin
  // that view change with its durable log. A view it was normal in it must not start again:
  // as its primary it would number ops anew that it numbered (unsynced) before the crash.
  bool RecoveringInViewChange() const {
    return status_ == ReplicaStatus::kRecovering && last_normal_view_ < view_;
  }
  void StartViewChangeTo(uint64_t v);
  void MaybeSendDoViewChange();
  // With f+1 DoViewChanges: picks the log of the view; fetches what their suffixes left out.
  void BecomePrimary();
  // The new primary holds the chosen log (fetched into catch_up_): installs it, starts the view.
  void CompleteViewChange();
  void OnViewChangeFetch(uint32_t from, const NewState& m);
  // Status kTransfer in view v: fetch the log of v after the commit number, in chunks, into
  // catch_up_ (seeded with `seed`, ops commit_+1...; target: the op to reach, if known), and
  // install it only once it reaches the primary's last op.
  void BeginTransfer(uint64_t v, std::vector<Entry> seed = {}, uint64_t target = kUnknownOp);
  void OnTransferChunk(const NewState& m);
  void ResetCatchUp();
  void RequestState(uint64_t from_op);
  void EnterNormal(uint64_t v);
  // Makes the log ops 1..from_op (kept) + entries (ops from_op+1..), then drops the rest but
  // for entries of `view` (the sender's view) that extend it. false (log untouched) if that
  // would change or drop a committed op.
  bool InstallSuffix(uint64_t from_op, const std::vector<Entry>& entries, uint64_t view);
  void CommitTo(uint64_t k);
  void AdvanceCommit();
  void PersistMeta();
  std::vector<Entry> Entries(uint64_t from_op, uint64_t max_entries, uint64_t max_bytes) const;
  void SendStartView(uint32_t to);

  void Send(uint32_t to, const Message& m);       // now
  void Queue(uint32_t to, Message m);             // after the next sync
  void Broadcast(const Message& m, bool queued);  // to all others
  void Finish();                                  // sync, then the queue
  void Fail();

  ReplicaConfig cfg_;
  Log& log_;
  Env& env_;
  ReplicaStatus status_ = ReplicaStatus::kNormal;
  uint64_t view_ = 0;
  uint64_t last_normal_view_ = 0;
  uint64_t commit_ = 0;  // == the last op applied
  uint64_t incarnation_ = 0;
  uint64_t now_ = 0;
  uint64_t status_since_ = 0;  // when the current status (and view) began
  uint64_t last_heard_ = 0;    // backup: last Prepare/Commit from the primary
  uint64_t last_resend_ = 0;   // heartbeat / retransmission clock
  uint64_t last_get_state_ = 0;
  uint64_t get_state_from_ = UINT64_MAX;
  // What a replica catching up has fetched, held in memory until it is whole: a log that
  // claims a view (last normal view) must hold that view's whole starting log, and one that
  // mixes a fetched prefix with older entries cannot name the view it is from. kTransfer
  // fetches from its primary; a new primary in kViewChange from the sender of the chosen log.
  struct CatchUp {
    uint64_t from_op = 0;          // entries are ops from_op+1 ...
    uint64_t target = kUnknownOp;  // whole once it reaches this op
    std::vector<Entry> entries;
    uint64_t next() const { return from_op + entries.size(); }
    bool whole() const { return target != kUnknownOp && next() >= target; }
  };
  CatchUp catch_up_;
  bool need_prepare_ok_ = false;
  bool recovery_sent_ = false;

  // Primary of a normal view.
  uint64_t synced_op_ = 0;                 // its own durable last op
  std::vector<uint64_t> acked_;            // per replica: PrepareOk'd up to
  std::map<uint64_t, uint64_t> tokens_;    // op_number -> client token
  std::vector<uint64_t> start_view_sent_;  // per replica: tick StartView was last resent
  // View change.
  std::vector<bool> svc_from_;
  bool dvc_sent_ = false;
  std::map<uint32_t, DoViewChange> dvcs_;
  bool fetching_ = false;                // new primary: fetching the chosen log
  uint32_t fetch_source_ = 0;            // ... from the replica that sent it
  uint64_t fetch_last_normal_view_ = 0;  // ... which is of this view
  uint64_t view_change_commit_ = 0;      // the highest commit number the DoViewChanges named
  std::vector<uint64_t> peer_commit_;    // per replica: its commit number, if known (else
                                         // kUnknownOp); where its StartView starts
  // Recovery.
  std::map<uint32_t, RecoveryResponse> recovery_responses_;

  std::vector<std::pair<uint32_t, Message>> queue_;
  ReplicaStats stats_;
};

}  // namespace wave::kv::repl
