// The replica's view change (replica.h): StartViewChange, DoViewChange, the new primary's
// choice of log, StartView, entering normal status.
#include <algorithm>
#include <utility>

#include <cstddef>

#include "kv/replication/replica.h"
#include "kv/replication/replica_internal.h"

namespace wave::kv::repl {

using detail::Contiguous;

void Replica::StartViewChangeTo(uint64_t v) {
  ++stats_.view_changes;
  view_ = v;
  status_ = ReplicaStatus::kViewChange;
  status_since_ = now_;
  last_resend_ = now_;
  svc_from_.assign(cfg_.n, false);
  dvc_sent_ = false;
  dvcs_.clear();
  ResetCatchUp();
  peer_commit_.assign(cfg_.n, kUnknownOp);
  tokens_.clear();  // the clients of a former primary hear nothing; they retry elsewhere
  recovery_responses_.clear();
  PersistMeta();  // synced before the StartViewChange leaves
  Broadcast(StartViewChange{.view = v, .replica = cfg_.self}, true);
  MaybeSendDoViewChange();
}

void Replica::MaybeSendDoViewChange() {
  if (status_ != ReplicaStatus::kViewChange || dvc_sent_)
    return;
  uint32_t votes = 0;
  for (uint32_t r = 0; r < cfg_.n; ++r)
    votes += (r != cfg_.self && svc_from_[r]) ? 1 : 0;
  if (votes < f())
    return;
  dvc_sent_ = true;
  // Only the suffix after the commit number: the committed prefix is the same everywhere.
  DoViewChange dvc{.view = view_,
                   .last_normal_view = last_normal_view_,
                   .op_number = log_.last_op(),
                   .commit_number = commit_,
                   .replica = cfg_.self,
                   .entries = Entries(commit_, TransferEntries(), kMaxTransferBytes)};
  if (PrimaryOf(view_) == cfg_.self) {
    dvcs_[cfg_.self] = std::move(dvc);
    if (dvcs_.size() >= f() + 1)
      BecomePrimary();
  } else {
    Queue(PrimaryOf(view_), std::move(dvc));
  }
}

void Replica::OnStartViewChange(uint32_t from, const StartViewChange& m) {
  if (m.replica != from) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view < view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (m.view == view_ && status_ == ReplicaStatus::kNormal) {
    if (is_primary())
      SendStartView(from);  // it missed our StartView
    return;
  }
  if (m.view > view_ || RecoveringInViewChange())
    StartViewChangeTo(m.view);
  if (status_ != ReplicaStatus::kViewChange)
    return;  // kTransfer: the view exists already
  svc_from_[from] = true;
  MaybeSendDoViewChange();
}

void Replica::OnDoViewChange(uint32_t from, DoViewChange&& m) {
  if (m.replica != from || PrimaryOf(m.view) != cfg_.self || m.last_normal_view >= m.view ||
      m.commit_number > m.op_number || m.entries.size() > m.op_number - m.commit_number ||
      !Contiguous(m.entries, m.commit_number, m.last_normal_view)) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view < view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (m.view == view_ && status_ == ReplicaStatus::kNormal) {
    peer_commit_[from] = m.commit_number;  // its StartView starts there
    SendStartView(from);                   // the view is started; it missed the StartView
    return;
  }
  if (m.view > view_ || RecoveringInViewChange())
    StartViewChangeTo(m.view);
  if (status_ != ReplicaStatus::kViewChange)
    return;
  // A DoViewChange implies the sender's StartViewChange.
  svc_from_[from] = true;
  dvcs_[from] = std::move(m);
  MaybeSendDoViewChange();
  if (status_ == ReplicaStatus::kViewChange && dvc_sent_ && dvcs_.size() >= f() + 1)
    BecomePrimary();
}

void Replica::BecomePrimary() {
  if (fetching_)
    return;  // chose already; more DoViewChanges change nothing
  // The log of the view: the one from the latest normal view, the longest among those (this
  // replica's own on a tie: nothing to fetch).
  auto own = dvcs_.find(cfg_.self);
  if (own == dvcs_.end())
    return;
  const DoViewChange* best = &own->second;
  uint64_t max_commit = commit_;
  for (const auto& [r, d] : dvcs_) {
    if (d.last_normal_view > best->last_normal_view ||
        (d.last_normal_view == best->last_normal_view && d.op_number > best->op_number))
      best = &d;
    max_commit = std::max(max_commit, d.commit_number);
    peer_commit_[r] = d.commit_number;
  }
  view_change_commit_ = max_commit;
  if (best->replica == cfg_.self) {
    CompleteViewChange();
    return;
  }
  // Another replica's log. Ours agrees with it up to our commit number (committed ops are in
  // the chosen log), so its suffix is usable if it starts there or before; else fetch from our
  // commit number. Either way the rest comes with GetState from that replica, which keeps its
  // log as it was while it waits in this view change.
  fetching_ = true;
  fetch_source_ = best->replica;
  fetch_last_normal_view_ = best->last_normal_view;
  catch_up_ = CatchUp{.from_op = commit_, .target = best->op_number, .entries = {}};
  if (best->commit_number <= commit_) {
    catch_up_.from_op = best->commit_number;
    catch_up_.entries = best->entries;
  }
  if (catch_up_.whole()) {
    CompleteViewChange();
    return;
  }
  Queue(fetch_source_,
        GetState{.view = view_, .op_number = catch_up_.next(), .replica = cfg_.self});
}

void Replica::OnViewChangeFetch(uint32_t from, const NewState& m) {
  if (!fetching_ || from != fetch_source_ || m.from_op != catch_up_.next() ||
      m.op_number != catch_up_.target || m.entries.empty()) {
    ++stats_.dropped_stale;  // not the chunk asked for (or the source's log moved on)
    return;
  }
  if (!Contiguous(m.entries, m.from_op, fetch_last_normal_view_) ||
      (!catch_up_.entries.empty() && m.entries.front().view < catch_up_.entries.back().view)) {
    ++stats_.dropped_bad;  // not the log its DoViewChange described
    return;
  }
  ++stats_.view_change_fetches;
  status_since_ = now_;  // progress: the view change is not stuck
  catch_up_.entries.insert(catch_up_.entries.end(), m.entries.begin(), m.entries.end());
  if (catch_up_.whole()) {
    CompleteViewChange();
    return;
  }
  Queue(fetch_source_,
        GetState{.view = view_, .op_number = catch_up_.next(), .replica = cfg_.self});
}

void Replica::CompleteViewChange() {
  // Install the fetched log (nothing when it is our own) and the view in one sync batch.
  if (fetching_ && !InstallSuffix(catch_up_.from_op, catch_up_.entries, view_)) {
    ++stats_.dropped_bad;
    ResetCatchUp();
    return;
  }
  ResetCatchUp();
  EnterNormal(view_);
  acked_.assign(cfg_.n, 0);
  synced_op_ = 0;
  start_view_sent_.assign(cfg_.n, 0);
  dvcs_.clear();
  for (uint32_t r = 0; r < cfg_.n; ++r)
    if (r != cfg_.self)
      SendStartView(r);
  CommitTo(std::min(view_change_commit_, log_.last_op()));
}

void Replica::SendStartView(uint32_t to) {
  // start_view_sent_ holds the tick + 1 (0: never), so a second request in the same tick is
  // 0 ticks after the first, not (unsigned) minus one.
  if (start_view_sent_[to] != 0 && now_ + 1 - start_view_sent_[to] < cfg_.heartbeat_ticks)
    return;
  start_view_sent_[to] = now_ + 1;
  // Start at the recipient's commit number if its DoViewChange told it, else at the lowest one
  // heard: a recipient that has not committed that far fetches instead (OnStartView).
  uint64_t from = peer_commit_[to];
  if (from == kUnknownOp) {
    from = commit_;
    for (uint64_t c : peer_commit_)
      if (c != kUnknownOp)
        from = std::min(from, c);
  }
  from = std::min(from, log_.last_op());
  Queue(to, StartView{.view = view_,
                      .op_number = log_.last_op(),
                      .commit_number = commit_,
                      .from_op = from,
                      .entries = Entries(from, TransferEntries(), kMaxTransferBytes)});
}

void Replica::OnStartView(uint32_t from, const StartView& m) {
  if (PrimaryOf(m.view) != from || m.commit_number > m.op_number || m.from_op > m.op_number ||
      m.entries.size() > m.op_number - m.from_op || !Contiguous(m.entries, m.from_op, m.view)) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view < view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (m.view == view_ && status_ == ReplicaStatus::kNormal) {
    last_heard_ = now_;
    need_prepare_ok_ = true;  // a duplicate: acknowledge again
    return;
  }
  const bool whole = m.from_op + m.entries.size() == m.op_number;
  if (m.from_op > commit_ || !whole) {
    // Our log is known to agree with the view's only up to our commit number. If the suffix
    // starts beyond it, or does not reach the view's last op, fetch the rest of the view's log
    // before claiming the view (a log of a view must hold all of its starting log).
    if (status_ == ReplicaStatus::kTransfer && view_ == m.view)
      return;  // fetching already
    std::vector<Entry> seed;
    if (m.from_op <= commit_ && commit_ - m.from_op < m.entries.size())
      seed.assign(m.entries.begin() + static_cast<std::ptrdiff_t>(commit_ - m.from_op),
                  m.entries.end());
    BeginTransfer(m.view, std::move(seed), m.op_number);
    return;
  }
  if (!InstallSuffix(m.from_op, m.entries, m.view)) {
    ++stats_.dropped_bad;
    return;
  }
  view_ = m.view;
  EnterNormal(m.view);
  CommitTo(std::min(m.commit_number, log_.last_op()));
  need_prepare_ok_ = true;
}

void Replica::EnterNormal(uint64_t v) {
  if (status_ == ReplicaStatus::kRecovering)
    ++stats_.recoveries;
  view_ = v;
  last_normal_view_ = v;
  status_ = ReplicaStatus::kNormal;
  status_since_ = now_;
  last_heard_ = now_;
  last_resend_ = now_;
  ++stats_.views_started;
  recovery_responses_.clear();
  dvcs_.clear();
  ResetCatchUp();
  if (!is_primary())
    tokens_.clear();
  PersistMeta();
}

}  // namespace wave::kv::repl
