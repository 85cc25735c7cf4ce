// Configuration of the NIC runtime, from code, a config file or wave-nicd's flags.
//
// File format: one `key = value` per line, `#` comments. Keys:
//   cores, mode (hybrid|fcfs|drr), tail_threshold_us, mean_threshold_us, alpha, window,
//   drr_quantum_us, watchdog_ms, core_spin_us, tick_us, migration (on|off), migration_cooldown_ms,
//   pin_cpus (comma list), actor = TYPE NAME [cap=BYTES] [pinned] [drr]  (repeatable)
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "runtime/actor.h"
#include "runtime/scheduler_config.h"

namespace wave::rt {

struct RuntimeConfig {
  SchedulerConfig sched;
  uint64_t mean_threshold_ns = 2'000'000;  // NIC mean latency that triggers migration
  uint64_t watchdog_ns = 50'000'000;       // a request running longer is evicted
  uint64_t tick_ns = 1'000'000;            // management loop period
  // How long an idle core polls for work before it sleeps (0: sleep at once). A NIC core
  // serving a latency-bound actor (the scheduling agent) polls, as real NIC cores do: waking
  // a sleeping thread costs several microseconds, more than the agent's whole decision.
  uint64_t core_spin_ns = 0;
  bool migration = true;
  uint64_t migration_cooldown_ns = 100'000'000;
  std::vector<int> pin_cpus;      // host CPUs the NIC cores are pinned to, round robin
  std::vector<ActorSpec> actors;  // created at start by wave-nicd
};

// Applies one `key = value` setting; false with *err set when the key or value is bad.
bool apply_setting(RuntimeConfig* cfg, const std::string& key, const std::string& value,
                   std::string* err);
// Parses a whole config text. Errors name the line.
bool parse_config(const std::string& text, RuntimeConfig* cfg, std::string* err);
bool load_config_file(const std::string& path, RuntimeConfig* cfg, std::string* err);

}  // namespace wave::rt
