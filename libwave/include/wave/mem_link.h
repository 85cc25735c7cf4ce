// The host's end of the memory link (uapi/wave_mem.h): creates the link's queues on a Device,
// ships access batches to the NIC's agent and hands back the agent's decisions, checked.
//
// A batch goes through one of WAVE_MEM_BATCH_SLOTS slots of the NIC buffer:
//  - DMA (the device has a host window the NIC can reach: the shm and the wave.ko loopback
//    devices): the batch is encoded into the host window and the NIC's DMA engine gathers it;
//    the batch-ready notice goes once the completion is back.
//  - PIO (no host window, e.g. the emulated PCI NIC, which cannot reach the VM's RAM): the host
//    writes the batch straight into the NIC buffer through its write-combining mapping.
// A slot is reused only after the agent's batch-done for it.
//
// Decisions are handed to the caller only when they are well formed, name a batch still in
// flight and arrive within the deadline after that batch's collection; everything else is
// counted and dropped. A batch whose done never comes (the NIC died) expires (expire_us), so a
// restarted NIC finds free slots and no decision for it is ever enacted.
#ifndef WAVE_MEM_LINK_H_
#define WAVE_MEM_LINK_H_

#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "wave/device.h"
#include "wave/link.h"
#include "wave/mem_batch.h"
#include "wave_mem.h"
#include "wave_mem_kpath.h"

namespace wave::mem {

struct MemLinkConfig {
  uint16_t policy = WAVE_MEM_POLICY_SOL;
  uint32_t max_reclaim_mib_s = 0;    // 0: no budget
  uint32_t deadline_us = 1'000'000;  // decisions later than this after collection are void
  bool kill = false;
  uint32_t expire_us = 0;      // a batch without its done is given up after this; 0: deadline + 1 s
  bool force_pio = false;      // never use the DMA engine
  uint64_t window_offset = 0;  // where in the host window the batch slots go
  uint32_t decision_slots = 1024;
  // The decision region's interrupt vector: one of its own, so the NIC's interrupt for memory
  // decisions wakes neither the scheduling link's handler (vector 2) nor anything else.
  uint16_t decision_vector = 3;
  // Kernel batch path: the kernel's slot table (one ioctl) is read when a message names a
  // batch this link has not learnt of yet, and at least this often (expiry, in_flight).
  uint32_t kernel_sync_us = 250'000;
};

struct MemLinkStats {
  uint64_t batches = 0;      // announced to the NIC
  uint64_t dma_batches = 0;  // of which through the DMA engine
  uint64_t pio_batches = 0;  // of which written through the mapping
  uint64_t bytes = 0;
  uint64_t dma_errors = 0;  // completions with an error status (the batch went by PIO)
  uint64_t slots_busy = 0;  // Submit found every slot in flight
  uint64_t done_ok = 0;
  uint64_t done_refused = 0;
  uint64_t done_late = 0;
  uint64_t expired = 0;                // batches whose done never came
  uint64_t decisions = 0;              // handed to the caller
  uint64_t late_decisions = 0;         // past the deadline on arrival: dropped
  uint64_t stray = 0;                  // decision or done for no batch in flight: dropped
  uint64_t bad_messages = 0;           // ring slots libwave refused
  uint64_t kernel_syncs = 0;           // kernel path: slot table reads
  uint64_t kernel_sync_errors = 0;     // kernel path: slot table unreadable
  uint64_t kernel_release_errors = 0;  // kernel path: a release the kernel refused
};

// The kernel batch path (uapi/wave_mem_kpath.h): wave.ko produces the batches into the slots
// and announces them; the link only learns of them, from the slot table the kernel
// publishes, to check the decisions and dones about them, and gives each slot back.
class KernelBatchSource {
 public:
  virtual ~KernelBatchSource() = default;
  // The kernel's slot table; false when it cannot be read.
  virtual bool ReadSlots(std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS>* out) = 0;
  // Slot may be written again: its done came or it expired. False if the kernel refused.
  virtual bool Release(uint32_t slot, uint64_t seq) = 0;
};

class MemHostLink {
 public:
  // Creates the link's queues and publishes the info block (attach_gen must differ from the
  // previous attach's: a restarted mechanism is a new link for the NIC).
  static Result<std::unique_ptr<MemHostLink>> Create(Device& dev, const MemLinkConfig& config,
                                                     uint64_t attach_gen);
  // Clears the info block (the NIC detaches), then destroys the queues.
  ~MemHostLink();
  MemHostLink(const MemHostLink&) = delete;
  MemHostLink& operator=(const MemHostLink&) = delete;

  // Hands the batch producer end to the kernel: from now on Submit is refused (EPERM) and Poll
  // reads the kernel's slot table when a decision or done names a batch it does not know yet,
  // or kernel_sync_us after the last read. source must outlive the link.
  void SetKernelSource(KernelBatchSource* source);
  bool kernel_batches() const { return kernel_ != nullptr; }

  // Ships one batch (info.seq is assigned here). EBUSY when every slot is in flight, EINVAL
  // when it does not encode.
  Result<uint64_t> Submit(BatchInfo info, std::span<const Region> regions, uint64_t now_ns);

  using DecisionFn = std::function<void(const wave_mem_decision&)>;
  using DoneFn = std::function<void(const wave_mem_batch_done&)>;
  // Drives the link: DMA completions, decisions and dones. now_ns in the batches' clock.
  // Returns how many things it handled.
  uint32_t Poll(uint64_t now_ns, const DecisionFn& on_decision, const DoneFn& on_done);

  // Flips the kill switch in the info block (the agent sees it within its sleep bound).
  void SetKill(bool on);
  // The agent's counters (seqlock read); false if the NIC has published none for this link.
  bool ReadNicStats(wave_mem_nic_stats* out) const;

  // The eventfd of the decision region's interrupt, or -1.
  int EventFd() const;
  bool dma() const { return use_dma_; }
  uint32_t in_flight() const;
  const MemLinkStats& stats() const { return stats_; }
  uint64_t attach_gen() const { return attach_gen_; }
  uint32_t message_queue() const { return link_->message_region().id; }
  uint32_t decision_queue() const { return link_->decision_region().id; }
  uint32_t dma_queue() const { return link_->dma_region().id; }

 private:
  enum class SlotState : uint8_t { kFree, kDmaPending, kAnnounced };
  struct Slot {
    SlotState state = SlotState::kFree;
    uint64_t seq = 0;
    uint64_t collected_ns = 0;
    uint32_t len = 0;
  };

  MemHostLink(Device& dev, const MemLinkConfig& config, uint64_t attach_gen)
      : dev_(dev), config_(config), attach_gen_(attach_gen) {}
  void WriteInfo(uint32_t flags);
  bool Announce(uint32_t slot);
  void ExpireOld(uint64_t now_ns);
  void SyncKernel(uint64_t now_ns);
  bool Knows(const Message& m) const;
  void Finish(uint32_t slot);

  Device& dev_;
  MemLinkConfig config_;
  uint64_t attach_gen_;
  std::unique_ptr<HostLink> link_;
  bool use_dma_ = false;
  uint64_t next_seq_ = 1;
  std::array<Slot, WAVE_MEM_BATCH_SLOTS> slots_{};
  std::vector<uint8_t> scratch_;
  KernelBatchSource* kernel_ = nullptr;
  uint64_t last_sync_ns_ = 0;
  bool kernel_synced_ = false;
  std::array<uint64_t, WAVE_MEM_BATCH_SLOTS> finished_seq_{};  // last seq freed per slot
  MemLinkStats stats_;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_LINK_H_
