// The link layer's counters, published in the control page's reserved1 block
// (struct wave_link_stats, uapi/wave_link_stats.h) for wavectl, sysfs and the tests.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_LINK_STATS_H_
#define WAVE_NIC_FW_CONTROL_PLANE_LINK_STATS_H_

#include <cstdint>

#include "wave_link_stats.h"

namespace wave::nic {

class LinkStats {
 public:
  // A counter of struct wave_link_stats, for example &wave_link_stats::echo_ok.
  using Field = __le64 wave_link_stats::*;

  // `shared` is the stats area inside the control page; nullptr keeps the counters local.
  explicit LinkStats(wave_link_stats* shared = nullptr) : shared_(shared) {}

  // Zeroes the shared area and publishes the magic last.
  void Publish();

  void Add(Field field, uint64_t n = 1);
  void Set(Field field, uint64_t value);
  uint64_t Get(Field field) const { return local_.*field; }

  void CountDoorbell(uint32_t vector);
  void CountIrq(uint32_t vector);
  uint64_t doorbells(uint32_t vector) const;
  uint64_t irqs(uint32_t vector) const;

 private:
  void Store(Field field);

  wave_link_stats* shared_;
  wave_link_stats local_{};  // host byte order; the single writer's truth
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_LINK_STATS_H_
