#include "control_plane/control_plane.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "base/shared_word.h"

namespace wave::nic {
namespace {

wave_link_stats* StatsArea(std::span<std::byte> bar) {
  return reinterpret_cast<wave_link_stats*>(bar.data() + WAVE_BAR_CONTROL_OFF +
                                            WAVE_LINK_STATS_OFF);
}

}  // namespace

ControlPlane::ControlPlane(Transport& transport, EventLoop& loop)
    : transport_(transport),
      loop_(loop),
      control_(transport.bar()),
      stats_(StatsArea(transport.bar())) {}

ControlPlane::~ControlPlane() {
  Stop();
}

Status ControlPlane::Start(const ControlPlaneConfig& config) {
  std::span<std::byte> bar = transport_.bar();
  if (bar.size() < WAVE_BAR_MIN_SIZE) {
    return Status::Error("BAR too small: " + std::to_string(bar.size()) + " bytes");
  }
  uint64_t period_us = static_cast<uint64_t>(config.heartbeat_period.count());
  if (period_us == 0 || period_us > UINT32_MAX) {
    return Status::Error("heartbeat period out of range");
  }
  if (transport_.bar_init() == Transport::BarInit::kZero) {
    std::memset(bar.data(), 0, bar.size());
  }
  stats_.Publish();
  ControlPageParams params;
  params.heartbeat_period_us = static_cast<uint32_t>(period_us);
  params.nr_vectors = transport_.nr_vectors();
  params.nic_peer_id = transport_.nic_peer_id();
  control_.Publish(params);

  if (Status st = loop_.AddTimer(
          config.heartbeat_period, [this](uint64_t) { control_.Beat(); }, &heartbeat_timer_);
      !st.ok()) {
    control_.SetState(WAVE_NIC_STATE_OFF);
    return st;
  }
  if (Status st = transport_.Start(loop_, stats_); !st.ok()) {
    // No host can reach a NIC whose transport did not start: do not leave READY behind.
    loop_.RemoveTimer(heartbeat_timer_);
    heartbeat_timer_ = 0;
    control_.SetState(WAVE_NIC_STATE_OFF);
    return st;
  }
  for (uint32_t v = 0; v < transport_.nr_vectors(); ++v) {
    int fd = transport_.doorbell_fd(v);
    doorbell_watches_.push_back(loop_.Watch(fd, [this, fd, v](uint32_t) {
      uint64_t count = 0;
      // One read resets the eventfd; several notifications since the last one fold into it.
      if (read(fd, &count, sizeof(count)) == sizeof(count) && count > 0) {
        OnDoorbell(v);
      }
    }));
  }
  started_ = true;
  RescanQueues();
  return Status::Ok();
}

void ControlPlane::Stop() {
  if (!started_) {
    return;
  }
  started_ = false;
  control_.SetState(WAVE_NIC_STATE_STOPPING);
  RaiseIrq(WAVE_ADMIN_VECTOR);
  for (EventLoop::WatchId id : doorbell_watches_) {
    loop_.Unwatch(id);
  }
  doorbell_watches_.clear();
  loop_.RemoveTimer(heartbeat_timer_);
  heartbeat_timer_ = 0;
  control_.SetState(WAVE_NIC_STATE_OFF);
  RaiseIrq(WAVE_ADMIN_VECTOR);
  transport_.Stop();
}

void ControlPlane::OnQueue(uint32_t id, QueueHandler handler) {
  queue_handlers_[id] = std::move(handler);
}

void ControlPlane::OnQueueKind(uint16_t kind, uint16_t dir, QueueHandler handler) {
  kind_handlers_[{kind, dir}] = std::move(handler);
}

void ControlPlane::OnVector(uint32_t vector, VectorHandler handler) {
  vector_handlers_[vector] = std::move(handler);
}

bool ControlPlane::RaiseIrq(uint32_t vector) {
  std::lock_guard<std::mutex> lock(irq_mu_);
  if (vector >= transport_.nr_vectors()) {
    stats_.Add(&wave_link_stats::irq_errors);
    return false;
  }
  // Counted before the interrupt goes out, so a host woken by it already sees it counted.
  control_.CountIrq();
  stats_.CountIrq(vector);
  if (!transport_.RaiseIrq(vector)) {
    stats_.Add(&wave_link_stats::irq_errors);
    return false;
  }
  return true;
}

void ControlPlane::RescanQueues() {
  ScanResult result = queues_.Scan(transport_.bar(), transport_.nr_vectors());
  stats_.Add(&wave_link_stats::queue_table_scans);
  stats_.Add(&wave_link_stats::bad_queue_descs, result.bad);
  stats_.Set(&wave_link_stats::active_queues, result.active);
  // Say it once when the set of rejected descs changes size, not on every doorbell.
  if (result.bad != last_bad_descs_) {
    last_bad_descs_ = result.bad;
    for (uint32_t id = 0; id < WAVE_MAX_QUEUES && result.bad > 0; ++id) {
      DescError e = queues_.last_error(id);
      if (e != DescError::kOk) {
        std::fprintf(stderr, "wave-nicd: queue %u ignored: %s\n", id, DescErrorName(e));
      }
    }
  }
}

const ControlPlane::QueueHandler* ControlPlane::HandlerFor(const Queue& queue) const {
  if (auto it = queue_handlers_.find(queue.id); it != queue_handlers_.end()) {
    return &it->second;
  }
  if (auto it = kind_handlers_.find({queue.desc.kind, queue.desc.dir});
      it != kind_handlers_.end()) {
    return &it->second;
  }
  return nullptr;
}

void ControlPlane::OnDoorbell(uint32_t vector) {
  control_.CountDoorbell();
  stats_.CountDoorbell(vector);
  if (vector == WAVE_ADMIN_VECTOR || control_.queue_table_gen() != queues_.generation()) {
    RescanQueues();
  }
  // A copy: a handler may re-scan the table (through RescanQueues) while we walk it.
  std::vector<Queue> rung;
  for (const Queue& q : queues_.active()) {
    if (q.desc.vector == vector) {
      rung.push_back(q);
    }
  }
  const wave_doorbell_page* db = control_.doorbells();
  for (const Queue& q : rung) {
    if (const QueueHandler* handler = HandlerFor(q)) {
      (*handler)(q, LoadLe(db->queue_db[q.id]));
    }
  }
  if (auto it = vector_handlers_.find(vector); it != vector_handlers_.end()) {
    it->second(vector);
  }
}

}  // namespace wave::nic
