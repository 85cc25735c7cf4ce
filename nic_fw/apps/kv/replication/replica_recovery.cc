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
    r.entries = Entries(m.commit_number, TransferEntries(), kMaxTransferBytes);
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
  if (p.from_op + p.entries.size() < p.op_number) {
    // More than one answer carries: fetch the rest of the view's log before claiming it.
    ++stats_.recoveries;
    const uint64_t target = p.op_number;
    std::vector<Entry> seed = std::move(it->second.entries);
    BeginTransfer(latest, std::move(seed), target);
    return;
  }
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

void Replica::BeginTransfer(uint64_t v, std::vector<Entry> seed, uint64_t target) {
  view_ = v;
  status_ = ReplicaStatus::kTransfer;
  status_since_ = now_;
  // Beyond the commit point the log may be from an older view: fetch from there.
  ResetCatchUp();
  catch_up_ = CatchUp{.from_op = commit_, .target = target, .entries = std::move(seed)};
  tokens_.clear();
  recovery_responses_.clear();
  dvcs_.clear();
  PersistMeta();
  Queue(PrimaryOf(v), GetState{.view = v, .op_number = catch_up_.next(), .replica = cfg_.self});
}

void Replica::ResetCatchUp() {
  fetching_ = false;
  catch_up_ = CatchUp{};
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
  // A normal replica answers anyone of its view; one waiting in a view change answers that
  // view's primary, which is fetching the log this replica sent it in its DoViewChange (the
  // log does not change in status kViewChange).
  const bool for_new_primary = status_ == ReplicaStatus::kViewChange && from == PrimaryOf(view_);
  if (m.view != view_ || (status_ != ReplicaStatus::kNormal && !for_new_primary) ||
      m.op_number > log_.last_op()) {
    ++stats_.dropped_stale;
    return;
  }
  if (for_new_primary)
    status_since_ = now_;  // the view change is progressing: do not time it out meanwhile
  Queue(from, NewState{.view = view_,
                       .from_op = m.op_number,
                       .op_number = log_.last_op(),
                       .commit_number = commit_,
                       .entries = Entries(m.op_number, TransferEntries(), kMaxTransferBytes)});
}

void Replica::OnNewState(uint32_t from, const NewState& m) {
  if (m.commit_number > m.op_number || m.from_op > m.op_number ||
      m.entries.size() > m.op_number - m.from_op || !Contiguous(m.entries, m.from_op, m.view)) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view != view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (status_ == ReplicaStatus::kViewChange) {
    OnViewChangeFetch(from, m);
    return;
  }
  if (status_ == ReplicaStatus::kTransfer) {
    OnTransferChunk(m);
    return;
  }
  if (status_ != ReplicaStatus::kNormal || is_primary()) {
    ++stats_.dropped_stale;
    return;
  }
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
  ++stats_.state_transfers;
  last_heard_ = now_;
  need_prepare_ok_ = true;
  CommitTo(std::min(m.commit_number, log_.last_op()));
  if (log_.last_op() < m.op_number)
    RequestState(log_.last_op());
}

void Replica::OnTransferChunk(const NewState& m) {
  if (m.from_op != catch_up_.next()) {
    ++stats_.dropped_stale;  // an answer to another request
    return;
  }
  if (!catch_up_.entries.empty() && !m.entries.empty() &&
      m.entries.front().view < catch_up_.entries.back().view) {
    ++stats_.dropped_bad;  // views going back: not one log
    return;
  }
  if (catch_up_.target == kUnknownOp)
    catch_up_.target = m.op_number;  // the first answer: the primary's log holds its view's start
  catch_up_.entries.insert(catch_up_.entries.end(), m.entries.begin(), m.entries.end());
  ++stats_.state_transfers;
  status_since_ = now_;  // progress: a long transfer is not a dead primary
  last_heard_ = now_;
  if (!catch_up_.whole()) {
    if (m.entries.empty()) {
      ++stats_.dropped_stale;  // nothing new (cannot be while behind the sender's last op)
      return;
    }
    Queue(PrimaryOf(view_),
          GetState{.view = view_, .op_number = catch_up_.next(), .replica = cfg_.self});
    return;
  }
  // Whole: install it and the view in one sync batch.
  if (!InstallSuffix(catch_up_.from_op, catch_up_.entries, view_)) {
    ++stats_.dropped_bad;
    return;
  }
  EnterNormal(view_);
  need_prepare_ok_ = true;
  CommitTo(std::min(m.commit_number, log_.last_op()));
  if (log_.last_op() < m.op_number)
    RequestState(log_.last_op());
}

}  // namespace wave::kv::repl
