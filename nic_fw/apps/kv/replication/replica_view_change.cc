// The replica's view change (replica.h): StartViewChange, DoViewChange, the new primary's
// choice of log, StartView, entering normal status.
#include <algorithm>
#include <utility>

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
  DoViewChange dvc{.view = view_,
                   .last_normal_view = last_normal_view_,
                   .op_number = log_.last_op(),
                   .commit_number = commit_,
                   .replica = cfg_.self,
                   .entries = Entries(0, UINT64_MAX, UINT64_MAX)};
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
      m.entries.size() != m.op_number || m.commit_number > m.op_number ||
      !Contiguous(m.entries, 0, m.last_normal_view)) {
    ++stats_.dropped_bad;
    return;
  }
  if (m.view < view_) {
    ++stats_.dropped_stale;
    return;
  }
  if (m.view == view_ && status_ == ReplicaStatus::kNormal) {
    SendStartView(from);  // the view is started; it missed the StartView
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
  // The log of the view: the one from the latest normal view, the longest among those.
  const DoViewChange* best = nullptr;
  uint64_t max_commit = commit_;
  for (const auto& [r, d] : dvcs_) {
    if (best == nullptr || d.last_normal_view > best->last_normal_view ||
        (d.last_normal_view == best->last_normal_view && d.op_number > best->op_number))
      best = &d;
    max_commit = std::max(max_commit, d.commit_number);
  }
  if (!InstallSuffix(0, best->entries, view_)) {
    ++stats_.dropped_bad;
    return;
  }
  EnterNormal(view_);
  acked_.assign(cfg_.n, 0);
  synced_op_ = 0;
  start_view_sent_.assign(cfg_.n, 0);
  dvcs_.clear();
  for (uint32_t r = 0; r < cfg_.n; ++r)
    if (r != cfg_.self)
      SendStartView(r);
  CommitTo(std::min(max_commit, log_.last_op()));
}

void Replica::SendStartView(uint32_t to) {
  // start_view_sent_ holds the tick + 1 (0: never), so a second request in the same tick is
  // 0 ticks after the first, not (unsigned) minus one.
  if (start_view_sent_[to] != 0 && now_ + 1 - start_view_sent_[to] < cfg_.heartbeat_ticks)
    return;
  start_view_sent_[to] = now_ + 1;
  Queue(to, StartView{.view = view_,
                      .op_number = log_.last_op(),
                      .commit_number = commit_,
                      .entries = Entries(0, UINT64_MAX, UINT64_MAX)});
}

void Replica::OnStartView(uint32_t from, const StartView& m) {
  if (PrimaryOf(m.view) != from || m.entries.size() != m.op_number ||
      m.commit_number > m.op_number || !Contiguous(m.entries, 0, m.view)) {
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
  if (!InstallSuffix(0, m.entries, m.view)) {
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
  if (!is_primary())
    tokens_.clear();
  PersistMeta();
}

}  // namespace wave::kv::repl
