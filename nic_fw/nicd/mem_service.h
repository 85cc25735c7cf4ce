// The memory agent's service inside wave-nicd (uapi/wave_mem.h): when the host's memory
// mechanism (wave-mem-host) attaches a memory link, this service attaches libwave's NicLink to
// it, runs the link's DMA engine (the host's access batches land in the NIC buffer), decodes
// every batch the host announces, has the policy decide, and sends the decisions and one
// batch-done per batch back on the decision ring.
//
// The policy is injected (MemDecider): wave-nicd builds the memory agent of nic_fw/policies/mem
// for the policy the info block names; tests inject their own.
//
// Nothing the host wrote is trusted: the info block, the rings (libwave), every batch (format,
// checksum, order, seq above the last one). A refused batch is answered REFUSED and counted;
// the link stays up. Decisions never outrun the host: when the decision ring is full they wait
// in a bounded outbox and no new batch is read until they went.
//
// The service thread polls while there is work and otherwise sleeps on the DMA buffer's
// doorbell (the host rings it with each batch) or max_sleep, which bounds how late an attach,
// a detach or a kill-switch flip is noticed.
//
// After it publishes decisions it interrupts the host on the decision region's vector
// (DecisionIrqGate, as the scheduling link does), so the host's mechanism can sleep on that
// vector's eventfd instead of polling the decision ring.
#ifndef WAVE_NIC_FW_NICD_MEM_SERVICE_H_
#define WAVE_NIC_FW_NICD_MEM_SERVICE_H_

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "base/unique_fd.h"
#include "nicd/decision_irq.h"
#include "wave/device.h"
#include "wave/link.h"
#include "wave/mem_batch.h"
#include "wave_mem.h"

namespace wave::nicd {

struct MemDecisionOut {
  mem::Region region;
  uint8_t action = WAVE_MEM_KEEP;  // WAVE_MEM_COLD..WAVE_MEM_WILLNEED
  uint8_t source = WAVE_MEM_SRC_FALLBACK;
};

enum class MemVerdict : uint8_t {
  kDecided,  // out holds the batch's decisions (possibly none)
  kLate,     // past its deadline: nothing decided
  kKilled,   // kill switch on: nothing decided
  kRefused,  // the regions break what the policy relies on: nothing decided
};

// What the host asked for at attach (struct wave_mem_info).
struct MemAttachParams {
  uint16_t policy = WAVE_MEM_POLICY_AGE;
  uint64_t max_reclaim_bytes_per_s = 0;  // 0: no budget
  uint64_t deadline_ns = 1'000'000'000;
  bool kill = false;
};

// The policy behind the service, one per attached link.
class MemDecider {
 public:
  virtual ~MemDecider() = default;
  // now_ns is in the batch's clock (BatchInfo::collected_ns plus the time the batch has spent
  // on the NIC so far; see mem_service.cc for why).
  virtual MemVerdict Decide(const mem::BatchInfo& info, std::span<const mem::Region> regions,
                            uint64_t now_ns, std::vector<MemDecisionOut>* out) = 0;
  virtual void SetKill(bool on) = 0;
  // Fills the policy's counters (decisions by source, accuracy, fallbacks, rate limiting).
  virtual void FillStats(wave_mem_nic_stats* s) const = 0;
};

using MemDeciderFactory =
    std::function<std::unique_ptr<MemDecider>(const MemAttachParams&, std::string* why)>;

struct MemServiceConfig {
  MemDeciderFactory factory;  // required
  std::chrono::microseconds spin{200};
  std::chrono::milliseconds max_sleep{5};
  // The sleep while no memory link is attached: the host rings the DMA buffer's doorbell when
  // it attaches one, so this bounds only a missed doorbell (every wave-nicd runs the service).
  std::chrono::milliseconds detached_sleep{50};
  // Interrupts the host on a vector (wave-nicd: the control plane's RaiseIrq). Empty: the
  // device's Notify on the decision queue (shm and wave.ko devices raise its vector).
  std::function<bool(uint32_t vector)> raise_irq;
};

// Summed over every attach.
struct MemServiceTotals {
  uint64_t attaches = 0;
  uint64_t detaches = 0;
  uint64_t attach_failures = 0;  // descriptors refused, or no policy for the info block
  uint64_t bad_info = 0;         // info block invalid
  uint64_t batches = 0;
  uint64_t refused_batches[static_cast<int>(mem::BatchError::kCountOfErrors)] = {};
  uint64_t bad_slot = 0;  // a batch-ready naming bytes outside the DMA buffer
  uint64_t stale_batches = 0;
  uint64_t late_batches = 0;
  uint64_t killed_batches = 0;
  uint64_t policy_refused = 0;  // the policy's own checks refused the batch
  uint64_t decisions = 0;
  uint64_t ring_full_waits = 0;  // decisions held back by a full decision ring
  uint64_t bad_messages = 0;     // ring slots libwave dropped
  uint64_t dma_transfers = 0;
  uint64_t decision_irqs = 0;   // interrupts raised for published decisions
  uint64_t irqs_coalesced = 0;  // publications left to an interrupt still unanswered
  uint64_t irq_failures = 0;    // the raise failed (the host then finds them by its timeout)
};

class MemService {
 public:
  MemService(wave::Device& device, MemServiceConfig config);
  ~MemService();
  MemService(const MemService&) = delete;
  MemService& operator=(const MemService&) = delete;

  bool Start(std::string* why);
  // Stops and joins the thread, then prints the totals on stderr.
  void Stop();
  // Wakes the thread (the DMA buffer's doorbell, or the queue table changed).
  void Wake();

  // A copy of the totals, safe from any thread.
  MemServiceTotals totals() const;
  bool attached() const { return attached_.load(std::memory_order_acquire); }

 private:
  struct Session;

  void Run();
  bool TryAttach();
  bool StillAttached();
  void EndSession(const char* why);
  // One pass over the link; true if it did anything.
  bool Serve();
  void HandleBatch(const wave_mem_batch_ready& ready);
  void SendDone(uint64_t seq, uint32_t slot, uint32_t status, uint32_t decisions,
                uint64_t agent_ns);
  bool FlushOutbox();
  void PublishStats();
  // Interrupts the host when decisions were published past the last interrupt (see
  // DecisionIrqGate); going_idle: the thread is about to sleep.
  void MaybeRaiseDecisionIrq(bool going_idle);
  void SleepUntilWoken(std::chrono::milliseconds timeout);

  wave::Device& device_;
  MemServiceConfig config_;
  nic::UniqueFd wake_fd_;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> attached_{false};
  std::unique_ptr<Session> session_;
  uint64_t last_seen_gen_ = 0;
  mutable std::mutex totals_mu_;  // totals() reads from other threads
  MemServiceTotals totals_;
};

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_MEM_SERVICE_H_
