#include "control_plane/control_page.h"

#include <atomic>

#include "base/shared_word.h"

namespace wave::nic {

ControlPage::ControlPage(std::span<std::byte> bar)
    : bar_(bar),
      page_(reinterpret_cast<wave_control_page*>(bar.data() + WAVE_BAR_CONTROL_OFF)),
      doorbells_(reinterpret_cast<wave_doorbell_page*>(bar.data() + WAVE_BAR_DOORBELL_OFF)) {}

void ControlPage::Publish(const ControlPageParams& params) {
  // A host attached to an earlier firmware run must not mistake this page for a live one
  // while it is being rewritten.
  StoreLe(page_->magic, 0u);
  StoreLe(page_->nic_state, WAVE_NIC_STATE_OFF);
  std::atomic_thread_fence(std::memory_order_release);

  heartbeat_ = 0;
  doorbells_seen_ = 0;
  irqs_raised_ = 0;
  StoreLe(page_->abi_major, WAVE_ABI_MAJOR);
  StoreLe(page_->abi_minor, WAVE_ABI_MINOR);
  StoreLe(page_->features, params.features);
  StoreLe(page_->bar_size, bar_.size());
  StoreLe(page_->heartbeat, heartbeat_);
  StoreLe(page_->heartbeat_period_us, params.heartbeat_period_us);
  StoreLe(page_->nic_peer_id, params.nic_peer_id);
  StoreLe(page_->nr_vectors, params.nr_vectors);
  StoreLe(page_->nic_doorbells, doorbells_seen_);
  StoreLe(page_->nic_irqs_raised, irqs_raised_);
  StoreLe(page_->nic_state, WAVE_NIC_STATE_READY);
  PublishLe(page_->magic, WAVE_ABI_MAGIC);
}

void ControlPage::SetState(uint32_t nic_state) {
  // Release: a host that sees the new state also sees everything the NIC wrote before.
  PublishLe(page_->nic_state, nic_state);
}

uint64_t ControlPage::Beat(uint64_t beats) {
  heartbeat_ += beats;
  StoreLe(page_->heartbeat, heartbeat_);
  return heartbeat_;
}

void ControlPage::CountDoorbell() {
  StoreLe(page_->nic_doorbells, ++doorbells_seen_);
}

void ControlPage::CountIrq() {
  StoreLe(page_->nic_irqs_raised, ++irqs_raised_);
}

uint32_t ControlPage::queue_table_gen() const {
  return ConsumeLe(page_->queue_table_gen);
}

uint32_t ControlPage::nic_state() const {
  return LoadLe(page_->nic_state);
}

}  // namespace wave::nic
