// The NIC's validated view of the queue table that wave.ko writes into the control page.
//
// Every desc is host-written, untrusted input. A scan copies each desc once, checks it on the
// copy (region page aligned, inside the BAR's queue area, no overlap with another queue,
// dir / kind / cache mode / vector known), and keeps only descs that pass. A bad desc is
// counted and ignored; the NIC never touches the region it names.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_QUEUE_TABLE_H_
#define WAVE_NIC_FW_CONTROL_PLANE_QUEUE_TABLE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "wave_abi.h"

namespace wave::nic {

// One desc as copied out of the BAR, in host byte order.
struct QueueDesc {
  uint32_t state = WAVE_QSTATE_FREE;
  uint32_t generation = 0;
  uint64_t offset = 0;
  uint64_t size = 0;
  uint16_t dir = 0;
  uint16_t cache_mode = 0;
  uint16_t kind = 0;
  uint16_t vector = 0;
};

// Why a desc was rejected (kOk: it names a usable queue).
enum class DescError {
  kOk,
  kBadState,
  kMisaligned,   // offset or size not a multiple of WAVE_PAGE_SIZE, or size 0
  kOutsideArea,  // below WAVE_BAR_QUEUE_AREA_OFF or past the end of the BAR
  kBadDir,
  kBadKind,
  kBadCacheMode,
  kBadVector,
  kOverlap,  // shares bytes with another active desc (both are rejected)
};

const char* DescErrorName(DescError error);

// Checks one ACTIVE desc on its own (not overlap, which needs the whole table).
DescError CheckDesc(const QueueDesc& desc, uint64_t bar_size, uint32_t nr_vectors);

// A queue the NIC may use.
struct Queue {
  uint32_t id = 0;  // index in the queue table
  QueueDesc desc;
  std::span<std::byte> region;  // the queue's bytes inside the NIC's BAR mapping
};

struct ScanResult {
  uint32_t active = 0;    // descs accepted
  uint32_t bad = 0;       // descs rejected
  uint32_t changing = 0;  // descs the host rewrote while they were copied (not counted bad)
};

class QueueTable {
 public:
  // Re-reads the table from `bar` (the whole BAR window) and replaces the current view.
  ScanResult Scan(std::span<std::byte> bar, uint32_t nr_vectors);

  // The queue with table index `id`, or nullptr if it is not active (or was rejected).
  const Queue* Find(uint32_t id) const;
  const std::vector<Queue>& active() const { return active_; }
  // queue_table_gen as read at the start of the last scan.
  uint32_t generation() const { return generation_; }
  // The verdict of the last scan for table index `id`.
  DescError last_error(uint32_t id) const {
    return id < WAVE_MAX_QUEUES ? errors_[id] : DescError::kBadState;
  }

 private:
  std::vector<Queue> active_;
  DescError errors_[WAVE_MAX_QUEUES] = {};
  uint32_t generation_ = 0;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_QUEUE_TABLE_H_
