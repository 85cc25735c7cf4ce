// The replica's catching up (replica.h): recovery of a replica restarted on its durable log,
// and state transfer (GetState / NewState) to one that is behind.
#include <algorithm>
#include <utility>

#include "kv/replication/replica.h"
#include "kv/replication/replica_internal.h"

namespace wave::kv::repl {

using detail::Contiguous;

// ---- recovery (of a replica restarted on its durable log) ----

void Replica::OnRecovery(uint32_t from, const Recovery& m) {
  if (m.replica != from) {
    ++stats_.dropped_bad;
    return;
  }
  if (status_ != ReplicaStatus::kNormal) {
    ++stats_.dropped_stale;
    return;
  }
  RecoveryResponse r;  // the log fields stay empty unless this replica is the primary
  r.view = view_;
  r.nonce = m.nonce;
  r.replica = cfg_.self;
  if (is_primary()) {
    if (m.commit_number > log_.last_op()) {
      // It has seen more ops committed than this primary holds: a newer view exists, which
      // this primary has not heard of (cut off). Nothing to answer, but no lie either.
      ++stats_.dropped_stale;
      return;
    }
    r.is_primary = true;
    r.op_number = log_.last_op();
    r.commit_number = commit_;
    r.from_op = m.commit_number;
    r.entries = Entries(m.commit_number, kMaxTransferEntries, kMaxTransferBytes);
  }
  Queue(from, std::move(r));
}

void Replica::OnRecoveryResponse(uint32_t from, RecoveryResponse&& m) {
  if (m.replica != from || (m.is_primary && PrimaryOf(m.view) != from) ||
      (m.is_primary &&
       (m.commit_number > m.op_number || m.from_op + m.entries.size() > m.op_number ||
        !Contiguous(m.entries, m.from_op, m.view)))) {
    ++stats_.dropped_bad;
    return;
  }
  if (status_ != ReplicaStatus::kRecovering || m.nonce != incarnation_) {
    ++stats_.dropped_stale;
    return;
  }
  recovery_responses_[from] = std::move(m);
  // Done with f answers (this replica's durable state is the (f+1)-th) that include the
  // primary of the latest view they name, if that view is not older than ours.
  if (recovery_responses_.size() < f())
    return;
  uint64_t latest = 0;
  for (const auto& [r, resp] : recovery_responses_)
    latest = std::max(latest, resp.view);
  if (latest < view_)
    return;
  auto it = recovery_responses_.find(PrimaryOf(latest));
  if (it == recovery_responses_.end() || it->second.view != latest || !it->second.is_primary)
    return;
  const RecoveryResponse& p = it->second;
  if (p.from_op != commit_)
    return;  // an answer to an older request
  if (!InstallSuffix(p.from_op, p.entries, latest)) {
    ++stats_.dropped_bad;
    return;
  }
  const uint64_t primary_commit = p.commit_number;
  const uint64_t primary_last = p.op_number;
  EnterNormal(latest);
  CommitTo(std::min(primary_commit, log_.last_op()));
  need_prepare_ok_ = true;
  if (log_.last_op() < primary_last)
    RequestState(log_.last_op());
}

// ---- state transfer ----

void Replica::BeginTransfer(uint64_t v) {
  view_ = v;
  status_ = ReplicaStatus::kTransfer;
  status_since_ = now_;
  transfer_from_ = commit_;  // beyond the commit point the log may be from an older view
  tokens_.clear();
  PersistMeta();
  Queue(PrimaryOf(v), GetState{.view = v, .op_number = transfer_from_, .replica = cfg_.self});
}

void Replica::RequestState(uint64_t from_op) {
  if (from_op == get_state_from_ && now_ - last_get_state_ < cfg_.heartbeat_ticks)
    return;
  get_state_from_ = from_op;
  last_get_state_ = now_;
  Queue(PrimaryOf(view_), GetState{.view = view_, .op_number = from_op, .replica = cfg_.self});
}

void Replica::OnGetState(uint32_t from, const GetState& m) {
  if (m.replica != from) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view != view_ || status_ != ReplicaStatus::kNormal || m.op_number > log_.last_op()) {
    ++stats_.dropped_stale;
    return;
  }
  Queue(from, NewState{.view = view_,
                       .from_op = m.op_number,
                       .op_number = log_.last_op(),
                       .commit_number = commit_,
                       .entries = Entries(m.op_number, kMaxTransferEntries, kMaxTransferBytes)});
}

void Replica::OnNewState(uint32_t, const NewState& m) {
  if (m.commit_number > m.op_number || m.from_op + m.entries.size() > m.op_number ||
      !Contiguous(m.entries, m.from_op, m.view)) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view != view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (status_ == ReplicaStatus::kTransfer) {
    if (m.from_op != transfer_from_) {
      ++stats_.dropped_stale;
      return;
    }
    if (!InstallSuffix(m.from_op, m.entries, view_)) {
      ++stats_.dropped_bad;
      return;
    }
    EnterNormal(view_);
  } else if (status_ == ReplicaStatus::kNormal && !is_primary()) {
    // Same view: our log is a prefix of the sender's; take what we lack.
    if (m.from_op > log_.last_op()) {
      ++stats_.dropped_stale;
      return;
    }
    for (const Entry& e : m.entries) {
      if (e.op_number <= log_.last_op()) {
        if (log_.read(e.op_number)->view != e.view) {
          ++stats_.dropped_bad;
          return;
        }
        continue;
      }
      if (log_.append(e) != Status::kOk) {
        Fail();
        return;
      }
    }
  } else {
    ++stats_.dropped_stale;
    return;
  }
  ++stats_.state_transfers;
  last_heard_ = now_;
  need_prepare_ok_ = true;
  CommitTo(std::min(m.commit_number, log_.last_op()));
  if (log_.last_op() < m.op_number)
    RequestState(log_.last_op());
}

}  // namespace wave::kv::repl
