// The replica (replica.h): the embedder's calls, normal operation, the log and sending. The
// view change is in replica_view_change.cc, recovery and state transfer in replica_recovery.cc.
#include "kv/replication/replica.h"

#include <algorithm>
#include <functional>
#include <utility>

#include "kv/replication/replica_internal.h"

namespace wave::kv::repl {

const char* ReplicaStatusName(ReplicaStatus s) {
  switch (s) {
    case ReplicaStatus::kNormal:
      return "normal";
    case ReplicaStatus::kViewChange:
      return "view-change";
    case ReplicaStatus::kRecovering:
      return "recovering";
    case ReplicaStatus::kTransfer:
      return "transfer";
    case ReplicaStatus::kFailed:
      return "failed";
  }
  return "?";
}

bool detail::Contiguous(const std::vector<Entry>& es, uint64_t from_op, uint64_t max_view) {
  for (size_t i = 0; i < es.size(); ++i) {
    if (es[i].op_number != from_op + 1 + i || es[i].view > max_view)
      return false;
    if (i > 0 && es[i].view < es[i - 1].view)
      return false;
  }
  return true;
}

Replica::Replica(const ReplicaConfig& config, Log& log, Env& env)
    : cfg_(config), log_(log), env_(env) {
  acked_.assign(cfg_.n, 0);
  start_view_sent_.assign(cfg_.n, 0);
  svc_from_.assign(cfg_.n, false);
  peer_commit_.assign(cfg_.n, kUnknownOp);
  if (cfg_.n == 0 || cfg_.n > kMaxReplicas || cfg_.self >= cfg_.n) {
    status_ = ReplicaStatus::kFailed;
    return;
  }
  const Metadata meta = log_.metadata();
  const bool fresh = meta.incarnation == 0 && meta.view == 0 && log_.last_op() == 0;
  view_ = meta.view;
  last_normal_view_ = meta.last_normal_view;
  incarnation_ = meta.incarnation + 1;
  // Replay what was committed before the restart into the embedder's fresh state machine.
  CommitTo(std::min(meta.commit_number, log_.last_op()));
  stats_.ops_replayed = stats_.ops_committed;
  status_ = fresh ? ReplicaStatus::kNormal : ReplicaStatus::kRecovering;
  PersistMeta();
  if (log_.sync() != Status::kOk)
    Fail();
}

// ---- the embedder's calls ----

void Replica::receive(uint32_t from, std::span<const std::byte> bytes) {
  if (status_ == ReplicaStatus::kFailed)
    return;
  Message m;
  if (Decode(bytes, &m) != Status::kOk || from >= cfg_.n || from == cfg_.self) {
    ++stats_.dropped_bad;
    return;
  }
  ++stats_.in[m.index()];
  std::visit(
      [&](auto& msg) {
        using M = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<M, Prepare>)
          OnPrepare(from, msg);
        if constexpr (std::is_same_v<M, PrepareOk>)
          OnPrepareOk(from, msg);
        if constexpr (std::is_same_v<M, Commit>)
          OnCommit(from, msg);
        if constexpr (std::is_same_v<M, StartViewChange>)
          OnStartViewChange(from, msg);
        if constexpr (std::is_same_v<M, DoViewChange>)
          OnDoViewChange(from, std::move(msg));
        if constexpr (std::is_same_v<M, StartView>)
          OnStartView(from, msg);
        if constexpr (std::is_same_v<M, Recovery>)
          OnRecovery(from, msg);
        if constexpr (std::is_same_v<M, RecoveryResponse>)
          OnRecoveryResponse(from, std::move(msg));
        if constexpr (std::is_same_v<M, GetState>)
          OnGetState(from, msg);
        if constexpr (std::is_same_v<M, NewState>)
          OnNewState(from, msg);
      },
      m);
  Finish();
}

void Replica::tick() {
  if (status_ == ReplicaStatus::kFailed)
    return;
  ++now_;
  const bool resend = now_ - last_resend_ >= cfg_.heartbeat_ticks;
  if (resend)
    last_resend_ = now_;
  const bool timed_out = now_ - status_since_ > cfg_.view_change_timeout_ticks;
  switch (status_) {
    case ReplicaStatus::kNormal:
      if (is_primary()) {
        if (!resend)
          break;
        Broadcast(Commit{.view = view_, .commit_number = commit_}, true);
        // Retransmit the Prepares a backup has not acknowledged (a few per heartbeat; one far
        // behind catches up with GetState instead).
        for (uint32_t r = 0; r < cfg_.n; ++r) {
          if (r == cfg_.self)
            continue;
          uint64_t last = std::min(log_.last_op(), acked_[r] + 16);
          for (uint64_t op = std::max(acked_[r], commit_) + 1; op <= last; ++op) {
            const Entry* e = log_.read(op);
            if (e->view != view_)
              continue;
            Send(r, Prepare{.view = view_, .commit_number = commit_, .entry = *e});
          }
        }
      } else if (now_ - last_heard_ > cfg_.view_change_timeout_ticks) {
        StartViewChangeTo(view_ + 1);
      }
      break;
    case ReplicaStatus::kViewChange:
      if (timed_out) {
        StartViewChangeTo(view_ + 1);
      } else if (resend) {
        Broadcast(StartViewChange{.view = view_, .replica = cfg_.self}, true);
        if (dvc_sent_ && PrimaryOf(view_) != cfg_.self) {
          dvc_sent_ = false;
          MaybeSendDoViewChange();
        }
        if (fetching_)  // the new primary: ask again for the chunk of the chosen log
          Queue(fetch_source_,
                GetState{.view = view_, .op_number = catch_up_.next(), .replica = cfg_.self});
      }
      break;
    case ReplicaStatus::kTransfer:
      if (timed_out) {
        StartViewChangeTo(view_ + 1);
      } else if (resend) {
        Queue(PrimaryOf(view_),
              GetState{.view = view_, .op_number = catch_up_.next(), .replica = cfg_.self});
      }
      break;
    case ReplicaStatus::kRecovering:
      if (timed_out) {
        // Nobody answered as the primary of a view at least ours (all restarted, or the
        // primary is this replica): elect one, from the durable logs.
        StartViewChangeTo(view_ + 1);
      } else if (resend || !recovery_sent_) {
        recovery_sent_ = true;
        Broadcast(Recovery{.replica = cfg_.self, .nonce = incarnation_, .commit_number = commit_},
                  true);
      }
      break;
    case ReplicaStatus::kFailed:
      break;
  }
  Finish();
}

Status Replica::submit(uint64_t client_token, std::span<const std::byte> op) {
  if (status_ == ReplicaStatus::kFailed)
    return Status::kFailed;
  if (!is_primary())
    return Status::kNotPrimary;
  if (op.size() > kMaxOpBytes)
    return Status::kTooLarge;
  Entry e{.view = view_, .op_number = log_.last_op() + 1, .op = {op.begin(), op.end()}};
  if (Status st = log_.append(e); st != Status::kOk)
    return st;
  tokens_[e.op_number] = client_token;
  Broadcast(Prepare{.view = view_, .commit_number = commit_, .entry = std::move(e)}, false);
  return Status::kOk;
}

void Replica::flush() {
  if (status_ != ReplicaStatus::kFailed)
    Finish();
}

// ---- normal operation ----

bool Replica::AcceptNormal(uint32_t from, uint64_t v) {
  if (v < view_) {
    ++stats_.dropped_stale;
    return false;
  }
  if (from != PrimaryOf(v)) {
    ++stats_.dropped_bad;
    return false;
  }
  if (status_ == ReplicaStatus::kRecovering) {
    ++stats_.dropped_stale;  // Recovery decides where this replica stands
    return false;
  }
  if (v > view_ || status_ == ReplicaStatus::kViewChange) {
    BeginTransfer(v);  // a view this replica missed the start of
    return false;
  }
  if (status_ != ReplicaStatus::kNormal)
    return false;  // kTransfer: waiting for NewState
  last_heard_ = now_;
  return true;
}

void Replica::OnPrepare(uint32_t from, const Prepare& m) {
  if (!AcceptNormal(from, m.view))
    return;
  const uint64_t op = m.entry.op_number;
  if (op <= log_.last_op()) {
    if (log_.read(op)->view != m.entry.view) {
      ++stats_.dropped_bad;  // not the primary's log: cannot happen in a correct run
      return;
    }
    need_prepare_ok_ = true;  // a retransmission: acknowledge again
  } else if (op == log_.last_op() + 1) {
    if (log_.append(m.entry) != Status::kOk) {
      Fail();
      return;
    }
    need_prepare_ok_ = true;
  } else {
    RequestState(log_.last_op());  // a gap: fetch what is missing
  }
  CommitTo(std::min(m.commit_number, log_.last_op()));
}

void Replica::OnPrepareOk(uint32_t from, const PrepareOk& m) {
  if (m.replica != from) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view < view_ || !is_primary() || m.view != view_) {
    ++stats_.dropped_stale;
    return;
  }
  acked_[from] = std::max(acked_[from], std::min(m.op_number, log_.last_op()));
}

void Replica::OnCommit(uint32_t from, const Commit& m) {
  if (!AcceptNormal(from, m.view))
    return;
  if (m.commit_number > log_.last_op())
    RequestState(log_.last_op());
  CommitTo(std::min(m.commit_number, log_.last_op()));
}

void Replica::CommitTo(uint64_t k) {
  while (commit_ < k) {
    const Entry* e = log_.read(commit_ + 1);
    if (e == nullptr)
      break;
    ++commit_;
    ++stats_.ops_committed;
    env_.apply(commit_, e->op);
    if (auto it = tokens_.find(commit_); it != tokens_.end()) {
      uint64_t token = it->second;
      tokens_.erase(it);
      env_.on_client_reply(token, commit_);
    }
  }
  PersistMeta();
}

void Replica::AdvanceCommit() {
  if (!is_primary())
    return;
  std::vector<uint64_t> have;
  for (uint32_t r = 0; r < cfg_.n; ++r)
    have.push_back(r == cfg_.self ? synced_op_ : std::min(acked_[r], log_.last_op()));
  std::sort(have.begin(), have.end(), std::greater<>());
  // The (f+1)-th highest: that many replicas hold ops 1..have[f] durably.
  const uint64_t majority_has = have[f()];
  if (majority_has > commit_)
    CommitTo(majority_has);
}

// ---- the log ----

bool Replica::InstallSuffix(uint64_t from_op, const std::vector<Entry>& entries, uint64_t view) {
  if (from_op > log_.last_op())
    return false;
  // Keep the longest common prefix (an entry is named by its view and op number).
  uint64_t keep = from_op;
  size_t i = 0;
  while (i < entries.size() && keep < log_.last_op() &&
         log_.read(keep + 1)->view == entries[i].view) {
    ++keep;
    ++i;
  }
  if (i < entries.size()) {  // ours ends or diverges at keep + 1: the sender's from there
    if (keep < commit_)
      return false;  // would rewrite a committed op
    if (log_.truncate_after(keep) != Status::kOk) {
      Fail();
      return false;
    }
    for (; i < entries.size(); ++i) {
      if (log_.append(entries[i]) != Status::kOk) {
        Fail();
        return false;
      }
    }
    return true;
  }
  // The sender's entries are all ours. Beyond them keep only entries of the sender's view: its
  // primary assigned them (never a number twice in its view), so they are in the view's log,
  // and this replica may have acknowledged or committed them before a restart; a late
  // StartView or NewState must not take them back. Entries of older views there are not in it.
  uint64_t end = keep;
  while (end < log_.last_op() && log_.read(end + 1)->view == view)
    ++end;
  if (end < commit_)
    return false;  // would drop a committed op
  if (log_.truncate_after(end) != Status::kOk) {
    Fail();
    return false;
  }
  return true;
}

std::vector<Entry> Replica::Entries(uint64_t from_op, uint64_t max_entries,
                                    uint64_t max_bytes) const {
  std::vector<Entry> out;
  uint64_t bytes = 0;
  for (uint64_t op = from_op + 1; op <= log_.last_op() && out.size() < max_entries; ++op) {
    const Entry* e = log_.read(op);
    if (!out.empty() && bytes + e->op.size() > max_bytes)
      break;
    bytes += e->op.size();
    out.push_back(*e);
  }
  return out;
}

void Replica::PersistMeta() {
  if (status_ == ReplicaStatus::kFailed)
    return;
  Metadata m{.view = view_,
             .last_normal_view = last_normal_view_,
             .commit_number = commit_,
             .incarnation = incarnation_};
  if (log_.set_metadata(m) != Status::kOk)
    Fail();
}

// ---- sending ----

void Replica::Send(uint32_t to, const Message& m) {
  std::vector<std::byte> bytes;
  if (Encode(m, bytes) != Status::kOk)
    return;  // a log too large for one message
  ++stats_.out[m.index()];
  env_.send(to, bytes);
}

void Replica::Queue(uint32_t to, Message m) {
  queue_.emplace_back(to, std::move(m));
}

void Replica::Broadcast(const Message& m, bool queued) {
  for (uint32_t r = 0; r < cfg_.n; ++r) {
    if (r == cfg_.self)
      continue;
    if (queued)
      Queue(r, m);
    else
      Send(r, m);
  }
}

void Replica::Finish() {
  if (status_ == ReplicaStatus::kFailed)
    return;
  if (log_.dirty() && log_.sync() != Status::kOk) {
    Fail();
    return;
  }
  synced_op_ = log_.last_op();
  if (is_primary())
    AdvanceCommit();
  if (need_prepare_ok_ && status_ == ReplicaStatus::kNormal && !is_primary())
    Queue(primary(), PrepareOk{.view = view_, .op_number = log_.last_op(), .replica = cfg_.self});
  need_prepare_ok_ = false;
  std::vector<std::pair<uint32_t, Message>> q;
  q.swap(queue_);
  for (const auto& [to, m] : q)
    Send(to, m);
}

void Replica::Fail() {
  ++stats_.log_errors;
  status_ = ReplicaStatus::kFailed;
  queue_.clear();
  tokens_.clear();
}

}  // namespace wave::kv::repl
