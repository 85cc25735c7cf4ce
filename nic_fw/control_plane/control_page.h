// The NIC's side of the BAR's control page: it fills the NIC-owned fields once at start-up,
// publishes the magic last, then keeps the heartbeat and the doorbell / interrupt counters
// moving. Fields written by the host (host_state, queue table) are only read, elsewhere.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PAGE_H_
#define WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PAGE_H_

#include <cstddef>
#include <cstdint>
#include <span>

#include "wave_abi.h"

namespace wave::nic {

struct ControlPageParams {
  uint64_t features = WAVE_FEAT_HEARTBEAT | WAVE_FEAT_DOORBELL_IRQ;
  uint32_t heartbeat_period_us = 1000;
  uint32_t nr_vectors = WAVE_MAX_VECTORS;
  uint32_t nic_peer_id = 0;
};

class ControlPage {
 public:
  // `bar` is the whole BAR window; its size must be at least WAVE_BAR_MIN_SIZE.
  explicit ControlPage(std::span<std::byte> bar);

  // Writes every NIC-owned field with nic_state READY, then (after a release fence) the magic,
  // so a host never sees a valid magic over a half-written page. The host-owned fields keep
  // their values.
  void Publish(const ControlPageParams& params);
  void SetState(uint32_t nic_state);
  // Advances the heartbeat by `beats` and returns the new value.
  uint64_t Beat(uint64_t beats = 1);
  void CountDoorbell();
  void CountIrq();

  uint32_t queue_table_gen() const;
  uint32_t nic_state() const;
  uint64_t heartbeat() const { return heartbeat_; }

  wave_control_page* page() const { return page_; }
  wave_doorbell_page* doorbells() const { return doorbells_; }
  std::span<std::byte> bar() const { return bar_; }

 private:
  std::span<std::byte> bar_;
  wave_control_page* page_;
  wave_doorbell_page* doorbells_;
  // The NIC is the only writer of these, so it keeps the truth locally and stores it whole;
  // a host that scribbles over the shared copy cannot make the counters jump.
  uint64_t heartbeat_ = 0;
  uint64_t doorbells_seen_ = 0;
  uint64_t irqs_raised_ = 0;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_CONTROL_PAGE_H_
