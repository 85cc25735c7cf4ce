#include "control_plane/link_stats.h"

#include <initializer_list>

#include "base/shared_word.h"

namespace wave::nic {

void LinkStats::Publish() {
  local_ = wave_link_stats{};
  if (shared_ == nullptr) {
    return;
  }
  StoreLe(shared_->magic, 0u);
  StoreLe(shared_->size, sizeof(wave_link_stats));
  for (uint32_t v = 0; v < WAVE_MAX_VECTORS; ++v) {
    StoreLe(shared_->doorbells[v], 0u);
    StoreLe(shared_->irqs[v], 0u);
  }
  for (Field f : {&wave_link_stats::queue_table_scans, &wave_link_stats::bad_queue_descs,
                  &wave_link_stats::active_queues, &wave_link_stats::echo_ok,
                  &wave_link_stats::echo_bad_cmd, &wave_link_stats::echo_bad_len,
                  &wave_link_stats::echo_bad_dst, &wave_link_stats::hosts_connected,
                  &wave_link_stats::hosts_accepted, &wave_link_stats::hosts_refused,
                  &wave_link_stats::host_errors, &wave_link_stats::irq_errors}) {
    StoreLe(shared_->*f, 0u);
  }
  PublishLe(shared_->magic, WAVE_LINK_STATS_MAGIC);
}

void LinkStats::Store(Field field) {
  if (shared_ != nullptr) {
    StoreLe(shared_->*field, local_.*field);
  }
}

void LinkStats::Add(Field field, uint64_t n) {
  local_.*field += n;
  Store(field);
}

void LinkStats::Set(Field field, uint64_t value) {
  local_.*field = value;
  Store(field);
}

void LinkStats::CountDoorbell(uint32_t vector) {
  if (vector >= WAVE_MAX_VECTORS) {
    return;
  }
  ++local_.doorbells[vector];
  if (shared_ != nullptr) {
    StoreLe(shared_->doorbells[vector], local_.doorbells[vector]);
  }
}

void LinkStats::CountIrq(uint32_t vector) {
  if (vector >= WAVE_MAX_VECTORS) {
    return;
  }
  ++local_.irqs[vector];
  if (shared_ != nullptr) {
    StoreLe(shared_->irqs[vector], local_.irqs[vector]);
  }
}

uint64_t LinkStats::doorbells(uint32_t vector) const {
  return vector < WAVE_MAX_VECTORS ? local_.doorbells[vector] : 0;
}

uint64_t LinkStats::irqs(uint32_t vector) const {
  return vector < WAVE_MAX_VECTORS ? local_.irqs[vector] : 0;
}

}  // namespace wave::nic
