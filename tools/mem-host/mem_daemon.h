// wave-mem-host's daemon: the host half of the memory offload, mechanisms only.
//
//   DAMON (a kdamond of our own, DamonMonitor) -> the BPF collector (Collector) -> one batch per
//   aggregation -> the memory link (MemHostLink: DMA or PIO into the NIC's batch slots)
//   -> the agent on the NIC decides -> decisions back, checked by the link (in-flight batch,
//   deadline) and by the Enactor (same process, inside its mappings) -> process_madvise.
//
// The daemon thread wakes on the collector's ring buffer, on signals, on the decision
// interrupt (the NIC raises the decision region's vector after publishing decisions; the
// daemon waits on its eventfd) and at most every 20 ms (user path: the collector's aggregation
// timeout) or 100 ms (kernel path: the safety net for a lost interrupt). Without an interrupt
// (or after three timeouts in a row found answers no interrupt announced) it polls the
// decision ring while a batch is in flight, every millisecond after activity, backing off to
// 32 ms. With the kernel batch path it also pushes each target's mapped ranges to wave.ko once
// a second. It never decides anything itself.
#ifndef WAVE_MEM_HOST_MEM_DAEMON_H_
#define WAVE_MEM_HOST_MEM_DAEMON_H_

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "damon_monitor.h"
#include "wave_mem.h"

namespace wave::mem {

struct DaemonOptions {
  std::string device = "wave:/dev/wave0";
  uint16_t policy = WAVE_MEM_POLICY_SOL;
  std::vector<pid_t> pids;
  std::vector<std::string> command;  // run this and track it; the daemon ends with it
  std::string state_dir = "/run/wave-mem";
  DamonConfig damon;
  // The agent's page-out budget: a page-out reclaims in the enactor's context (compressing
  // into zram, writing to swap), so an unbounded one takes a core from the workload.
  uint32_t max_reclaim_mib_s = 32;
  uint32_t deadline_ms = 1000;
  bool pio = false;
  // auto: the kernel batch path (uapi/wave_mem_kpath.h) when wave.ko supports it, else the
  // user-space one; kernel: that or fail; user: this process assembles and ships. Empty:
  // $WAVE_MEM_BATCH_PATH, else auto.
  std::string batch_path;
  bool kill = false;
  bool foreground = false;
  std::string status_out;  // also write the final status JSON here
};

// Runs until SIGTERM/SIGINT (or the command's exit); returns the exit status (the command's,
// when there is one). ready_fd, if >= 0, receives "ok\n" or an error line once set up.
int RunDaemon(const DaemonOptions& o, int ready_fd);

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_MEM_DAEMON_H_
