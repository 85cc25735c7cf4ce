// The Shinjuku priority table (layout in uapi/wave_sched.h): applications write tid -> QoS
// class entries into shared memory; the agent reads them through PrioTableReader, which
// trusts nothing in the mapping. PrioTableWriter is the application side (also used by tests).
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>

#include "wave_sched.h"

namespace wave::agents {

struct PrioTableStats {
  uint64_t scans = 0;
  uint64_t entries = 0;      // consistent entries naming a task
  uint64_t torn = 0;         // entry changed while read (or a writer holds it): retried later
  uint64_t bad_entries = 0;  // class out of range or flags set
  uint64_t bad_header = 0;   // scans refused because the header is invalid
};

class PrioTableReader {
 public:
  // `base` maps `size` bytes of the table; both stay valid while the reader lives.
  PrioTableReader(const void* base, size_t size) : base_(base), size_(size) {}

  // Whether the header is valid and the entries fit in the mapping.
  bool valid() const;
  // The header's generation: a change means some entry may have changed.
  uint64_t gen() const;
  // Calls fn(tid, qos) for every consistent, valid entry. Returns false if the header is
  // invalid (nothing is visited). An entry being written is skipped and counted as torn.
  bool scan(const std::function<void(uint32_t tid, uint32_t qos)>& fn);

  const PrioTableStats& stats() const { return stats_; }

 private:
  uint32_t nr_entries() const;  // from a valid header

  const void* base_;
  size_t size_;
  PrioTableStats stats_;
};

class PrioTableWriter {
 public:
  // Formats an empty table of nr_entries entries into `base` (size bytes).
  static bool format(void* base, size_t size, uint32_t nr_entries);

  PrioTableWriter(void* base, size_t size) : base_(base), size_(size) {}
  // Writes entry `index` (the application's own slot). False if the table or the arguments
  // are invalid, or another writer holds the entry.
  bool set(uint32_t index, uint32_t tid, uint32_t qos);
  // Frees entry `index`.
  bool clear(uint32_t index) { return set(index, 0, 0); }

 private:
  void* base_;
  size_t size_;
};

}  // namespace wave::agents
