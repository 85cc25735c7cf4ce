// The Collector: loads bpf/wave_mem_collect.bpf.c (its libbpf skeleton), attaches it to
// DAMON's damon_aggregated tracepoint, and turns the records of our kdamond into batches
// (BatchAssembler: one per aggregation interval, sorted, page aligned, PAGED_OUT flagged).
//
// No thread of its own: the caller waits on fd() in its own loop (epoll; it is the ring
// buffer's epoll fd, readable when records are waiting) and calls Consume(), or calls
// Poll(timeout) which waits on it. Either also delivers an aggregation that stopped short
// once its timeout passed. Batches go to the callback, in the calling thread.
//
// Needs root (CAP_BPF + CAP_PERFMON) and a kernel with BTF and the damon_aggregated
// tracepoint (CONFIG_DAMON).
#ifndef WAVE_MEM_HOST_COLLECTOR_H_
#define WAVE_MEM_HOST_COLLECTOR_H_

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "batch_assembler.h"
#include "paged_out.h"
#include "wave/result.h"

struct wave_mem_collect;  // the skeleton
struct ring_buffer;

namespace wave::mem {

struct CollectorOptions {
  uint32_t aggr_us = 100000;          // DAMON's aggregation interval (BatchInfo.aggr_us)
  uint16_t max_accesses = 20;         // aggr_us / sample_us
  uint64_t timeout_ns = 0;            // incomplete aggregation delivered after; 0: aggr_us / 2
  uint32_t ringbuf_bytes = 4u << 20;  // power of two, >= 4096
};

struct CollectorCounters {
  AssemblerCounters assembler;
  uint64_t bpf_recorded = 0;  // records the program wrote
  uint64_t bpf_filtered = 0;  // tracepoint hits of other kdamonds
  uint64_t bpf_lost = 0;      // records lost to a full ring buffer
  uint64_t foreign = 0;       // records of another kdamond that reached user space
  // The kernel batch path (SetKernelPath): what the program handed to wave.ko.
  bool kernel_path = false;
  uint64_t kernel_added = 0;    // regions wave.ko took
  uint64_t kernel_refused = 0;  // regions wave.ko refused
  uint64_t kernel_unknown = 0;  // records of an index without a settled target
  uint64_t kernel_shipped = 0;  // batches closed and shipped
  uint64_t kernel_dropped = 0;  // batches closed and dropped by wave.ko
  uint64_t kernel_missing = 0;  // records seen while wave.ko's kfuncs were absent
};

class Collector {
 public:
  // Loads and attaches. kdamond_pid: the kdamond to record (DamonMonitor::kdamond_pid());
  // 0 records every kdamond (tests only). EPERM: needs root; ENOENT/EINVAL: no BTF or no
  // damon_aggregated tracepoint in this kernel.
  static Result<std::unique_ptr<Collector>> Create(const CollectorOptions& o, BatchCallback cb,
                                                   const PagedOutSet* paged_out = nullptr,
                                                   pid_t kdamond_pid = 0);
  ~Collector();
  Collector(const Collector&) = delete;
  Collector& operator=(const Collector&) = delete;

  // Thread safe with respect to Consume/Poll.
  void SetKdamondPid(pid_t pid);
  void SetTargets(std::vector<TargetSlot> slots);
  // Kernel batch path on: the program hands each region to wave.ko's kfuncs (its memory link
  // must be attached, uapi/wave_mem_kpath.h) and nothing reaches the ring buffer. EINVAL with
  // more than WAVE_MEM_COLLECT_MAX_KSLOTS targets.
  Status SetKernelPath(bool on);

  int fd() const;
  // Handles what is waiting, without blocking; returns the records consumed.
  Result<int> Consume();
  // Waits up to timeout_ms (less if an aggregation's timeout comes first), then Consume().
  Result<int> Poll(int timeout_ms);

  CollectorCounters counters() const;

 private:
  Collector(const CollectorOptions& o, BatchCallback cb, const PagedOutSet* paged_out);
  static int OnRecord(void* ctx, void* data, size_t size);

  CollectorOptions o_;
  BatchAssembler assembler_;
  mutable std::mutex mu_;
  wave_mem_collect* skel_ = nullptr;
  ring_buffer* rb_ = nullptr;
  pid_t kdamond_pid_ = 0;
  bool kernel_path_ = false;
  std::vector<TargetSlot> slots_;
  Status WriteKernelSlots();
  uint64_t foreign_ = 0;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_COLLECTOR_H_
