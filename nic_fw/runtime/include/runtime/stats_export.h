// The runtime's statistics in the control page's NIC stats area (format: uapi/wave_stats.h):
// the NIC encodes under a seqlock; the host decodes and validates a consistent copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "runtime/runtime_stats.h"

namespace wave::rt {

// Writes `s` into `area` (at least WAVE_NIC_STATS_SIZE bytes, shared with the host). Actors
// beyond WAVE_STATS_MAX_ACTORS are left out (the header's counts stay complete).
void export_stats(const RuntimeStats& s, uint32_t nr_cores, void* area, size_t size);

struct DecodedActor {
  uint32_t id = 0;
  std::string name;
  std::string group;     // "fcfs" | "drr"
  std::string location;  // "nic" | "migrating" | "host" | "returning"
  bool quarantined = false, pinned = false;
  uint32_t exec_mean_ns = 0, exec_tail_ns = 0, latency_mean_ns = 0, latency_tail_ns = 0;
  uint32_t queued = 0, violations = 0;
  uint64_t processed = 0;
  uint16_t evictions = 0, migrations = 0;
};

struct DecodedStats {
  uint32_t nr_cores = 0, fcfs_cores = 0, drr_cores = 0;
  uint32_t fcfs_queue_depth = 0, nic_mean_latency_ns = 0;
  uint64_t requests = 0, violations = 0;
  uint32_t migrations_out = 0, migrations_in = 0, evictions = 0, quarantines = 0;
  std::vector<DecodedActor> actors;
};

// Reads a consistent snapshot from `area` (possibly being written by the NIC right now).
// Returns false with *err set if the area is not valid stats (after a few retries for a writer
// in progress).
bool decode_stats(const volatile void* area, size_t size, DecodedStats* out, std::string* err);

std::string stats_table(const DecodedStats& s);
std::string stats_json(const DecodedStats& s);

}  // namespace wave::rt
