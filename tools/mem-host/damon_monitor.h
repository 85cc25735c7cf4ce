// DAMON set up through its sysfs interface (Documentation/admin-guide/mm/damon/usage.rst):
// one kdamond of our own, appended to the existing ones, monitoring the virtual address
// spaces (operations "vaddr") of the tracked processes.
//
// The kernel's rules shape this: writing kdamonds/nr_kdamonds fails with EBUSY while any
// kdamond is running, and it removes and recreates every kdamond directory (so an existing
// kdamond that is off loses its configuration). Create therefore refuses (EBUSY, with the
// reason) when another kdamond is running or is configured, rather than break it, and the
// teardown (Stop, the destructor) turns ours off and writes the original nr_kdamonds back.
//
// Targets are numbered by DAMON by their position in the context's target list: the
// damon_aggregated tracepoint's target_id is that index (mm/damon/core.c,
// kdamond_reset_aggregated: ti counts the targets in list order), and the sysfs interface
// builds the list in the order of targets/0..N-1 (and a live "commit" matches targets by
// index). slots() maps each index to the TargetTable id. After a commit that puts another
// process at an index, DAMON keeps that index's old regions until its next update interval
// (regions are only re-fitted then), so such an index's slot is valid only from
// update_us + aggr_us after the commit: the Collector drops its records until then.
#ifndef WAVE_MEM_HOST_DAMON_MONITOR_H_
#define WAVE_MEM_HOST_DAMON_MONITOR_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "batch_assembler.h"
#include "wave/result.h"

namespace wave::mem {

struct DamonConfig {
  std::string sysfs_root = "/sys/kernel/mm/damon/admin";
  uint32_t sample_us = 5000;
  uint32_t aggr_us = 100000;
  uint32_t update_us = 1000000;
  uint32_t min_nr_regions = 10;
  uint32_t max_nr_regions = 1000;
};

struct MonitoredTarget {
  uint32_t id = 0;  // TargetTable id
  pid_t pid = 0;
};

class DamonMonitor {
 public:
  // Appends a kdamond and configures its context (vaddr, the intervals and region bounds);
  // it is turned on by the first SetTargets with targets. Errors: ENOENT (no DAMON sysfs:
  // CONFIG_DAMON_SYSFS, or sysfs not mounted), EACCES/EPERM (needs root), EBUSY (another
  // kdamond is running or configured), EINVAL (bad config).
  static Result<std::unique_ptr<DamonMonitor>> Create(const DamonConfig& config);
  ~DamonMonitor();
  DamonMonitor(const DamonMonitor&) = delete;
  DamonMonitor& operator=(const DamonMonitor&) = delete;

  // Monitors exactly these processes, in this order (index i = targets[i]): turns the kdamond
  // on, commits the new list to the running kdamond, or turns it off for an empty list. A
  // kdamond that stopped by itself (DAMON stops when every target has exited) is turned on
  // again. On an error the previous list stays in slots().
  Status SetTargets(std::span<const MonitoredTarget> targets);

  // Turns our kdamond off and restores nr_kdamonds. Idempotent; the destructor calls it.
  Status Stop();

  bool running() const;                 // our kdamond's state is "on"
  int kdamond_pid() const;              // its pid (the tracepoint's current task), -1 when off
  int index() const { return index_; }  // kdamonds/<index>, -1 after Stop
  uint32_t original_nr_kdamonds() const { return orig_nr_; }
  const DamonConfig& config() const { return config_; }
  uint16_t max_accesses() const;  // aggr_us / sample_us
  std::vector<TargetSlot> slots() const { return slots_; }
  std::vector<MonitoredTarget> targets() const { return targets_; }

 private:
  explicit DamonMonitor(const DamonConfig& config) : config_(config) {}
  std::string Dir() const;  // kdamonds/<index>
  std::string Ctx() const;  // kdamonds/<index>/contexts/0

  DamonConfig config_;
  int index_ = -1;
  uint32_t orig_nr_ = 0;
  std::vector<MonitoredTarget> targets_;
  std::vector<TargetSlot> slots_;
};

// Helpers, exposed for the tests and the CLI.
Status WriteSysfs(const std::string& path, const std::string& value);
Result<std::string> ReadSysfs(const std::string& path);  // trailing newline removed

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_DAMON_MONITOR_H_
