// What wave.ko does to the BAR, done by a test through its mapping of the shared memory:
// write queue descs (state last), bump queue_table_gen, write doorbell words, and read the
// NIC's control page and link statistics.
#ifndef WAVE_NIC_FW_NICD_TESTS_FAKE_HOST_H_
#define WAVE_NIC_FW_NICD_TESTS_FAKE_HOST_H_

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>

#include "base/shared_word.h"
#include "wave_abi.h"
#include "wave_link_stats.h"

namespace wave::nicd::testing {

class FakeHost {
 public:
  explicit FakeHost(std::span<std::byte> bar) : bar_(bar) {}

  wave_control_page* control() const {
    return reinterpret_cast<wave_control_page*>(bar_.data() + WAVE_BAR_CONTROL_OFF);
  }
  wave_doorbell_page* doorbells() const {
    return reinterpret_cast<wave_doorbell_page*>(bar_.data() + WAVE_BAR_DOORBELL_OFF);
  }
  const wave_link_stats* stats() const {
    return reinterpret_cast<const wave_link_stats*>(bar_.data() + WAVE_BAR_CONTROL_OFF +
                                                    WAVE_LINK_STATS_OFF);
  }
  uint64_t Stat(__le64 wave_link_stats::*field) const { return nic::LoadLe(stats()->*field); }

  // Writes desc `id` as wave.ko does on create: fields first, the state word last.
  void SetQueue(uint32_t id, uint64_t offset, uint64_t size, uint16_t dir, uint16_t kind,
                uint16_t vector, uint16_t cache_mode) {
    wave_queue_desc& d = control()->queues[id];
    nic::StoreLe(d.state, WAVE_QSTATE_FREE);
    nic::StoreLe(d.generation, nic::LoadLe(d.generation) + 1);
    nic::StoreLe(d.offset, offset);
    nic::StoreLe(d.size, size);
    nic::StoreLe(d.dir, dir);
    nic::StoreLe(d.kind, kind);
    nic::StoreLe(d.vector, vector);
    nic::StoreLe(d.cache_mode, cache_mode);
    nic::PublishLe(d.state, WAVE_QSTATE_ACTIVE);
  }
  void ClearQueue(uint32_t id) { nic::PublishLe(control()->queues[id].state, WAVE_QSTATE_FREE); }
  void BumpTableGen() {
    nic::PublishLe(control()->queue_table_gen, nic::LoadLe(control()->queue_table_gen) + 1);
  }
  void SetDoorbellWord(uint32_t queue, uint32_t value) {
    nic::PublishLe(doorbells()->queue_db[queue], value);
  }
  std::byte* Region(uint64_t offset) const { return bar_.data() + offset; }

 private:
  std::span<std::byte> bar_;
};

}  // namespace wave::nicd::testing

#endif  // WAVE_NIC_FW_NICD_TESTS_FAKE_HOST_H_
