// The NIC side of the host link, over either transport: it publishes the control page, keeps
// the heartbeat, validates the queue table, turns doorbells into calls of the handlers that
// services (the echo self-test, later the actor runtime) register, and raises interrupts.
//
// Everything runs on the EventLoop's thread. A doorbell on vector v runs, in order:
//   1. a queue table re-scan if v is the admin vector or queue_table_gen moved;
//   2. the handler of every active queue whose vector is v, with the queue's doorbell word;
//   3. the vector's own handler, if one is registered.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PLANE_H_
#define WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PLANE_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <vector>

#include "base/event_loop.h"
#include "base/status.h"
#include "control_plane/control_page.h"
#include "control_plane/link_stats.h"
#include "control_plane/queue_table.h"
#include "control_plane/transport.h"

namespace wave::nic {

struct ControlPlaneConfig {
  std::chrono::microseconds heartbeat_period{1000};
};

class ControlPlane {
 public:
  // doorbell: the queue's word in the doorbell page, as the host last wrote it (untrusted).
  using QueueHandler = std::function<void(const Queue& queue, uint32_t doorbell)>;
  using VectorHandler = std::function<void(uint32_t vector)>;

  // Both must outlive the link.
  ControlPlane(Transport& transport, EventLoop& loop);
  ~ControlPlane();
  ControlPlane(const ControlPlane&) = delete;
  ControlPlane& operator=(const ControlPlane&) = delete;

  // Publishes the control page (nic_state READY, magic last), starts the heartbeat, starts the
  // transport and listens on its doorbells.
  Status Start(const ControlPlaneConfig& config);
  // nic_state STOPPING, tells the host on the admin vector, detaches the hosts, nic_state OFF.
  void Stop();

  // Handlers for queues by table index, or by kind and direction (WAVE_QKIND_*, WAVE_DIR_*).
  // An index handler wins over a kind handler. Register before or after Start.
  void OnQueue(uint32_t id, QueueHandler handler);
  void OnQueueKind(uint16_t kind, uint16_t dir, QueueHandler handler);
  void OnVector(uint32_t vector, VectorHandler handler);

  // Interrupts the host on `vector` and counts it. Any thread (Transport::RaiseIrq).
  bool RaiseIrq(uint32_t vector);
  // Re-reads and validates the queue table now.
  void RescanQueues();

  const QueueTable& queues() const { return queues_; }
  ControlPage& control() { return control_; }
  LinkStats& stats() { return stats_; }
  Transport& transport() { return transport_; }
  uint32_t nr_vectors() const { return transport_.nr_vectors(); }

 private:
  void OnDoorbell(uint32_t vector);
  const QueueHandler* HandlerFor(const Queue& queue) const;

  Transport& transport_;
  EventLoop& loop_;
  ControlPage control_;
  LinkStats stats_;
  QueueTable queues_;
  std::map<uint32_t, QueueHandler> queue_handlers_;
  std::map<std::pair<uint16_t, uint16_t>, QueueHandler> kind_handlers_;
  std::map<uint32_t, VectorHandler> vector_handlers_;
  std::vector<EventLoop::WatchId> doorbell_watches_;
  EventLoop::WatchId heartbeat_timer_ = 0;
  bool started_ = false;
  uint64_t last_bad_descs_ = 0;
  // Serialises the interrupt counters (control page, link stats) between raising threads.
  std::mutex irq_mu_;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PLANE_H_
