// Decisions, NIC to host: one prestaged slot per host CPU plus a decision ring.
//
// The agent keeps each CPU's prestaged slot filled with its next decision for that CPU. The
// host, ahead of need (for example one CPU ahead in its scheduling loop), flushes the slot's
// line from its cache and prefetches it through the WT mapping, so the read has crossed the
// link by the time the decision is wanted; it then validates the copy (version newer than the
// last one taken, checksum, CPU) and commits it as a transaction. Where flush-and-prefetch is
// not available (UC mapping, no CLFLUSH) the read happens at the time of use: correct, one
// link round trip slower. Decisions that are not tied to a CPU's next pick go through the ring.
#ifndef WAVE_DECISION_QUEUE_H_
#define WAVE_DECISION_QUEUE_H_

#include <cstdint>
#include <span>
#include <vector>

#include "wave/message_queue.h"

namespace wave {

class DecisionProducer {
 public:
  DecisionProducer() = default;
  DecisionProducer(MessageProducer ring, wave_prestaged_slot* slots, uint32_t nr_cpus, MemKind mem);

  // Replaces cpu's prestaged decision. False if cpu is out of range.
  bool Prestage(uint32_t cpu, const wave_decision& d);
  // Through the ring.
  bool Push(const wave_decision& d) { return ring_.SendDecision(d); }

  uint32_t nr_cpus() const { return nr_cpus_; }
  MessageProducer& ring() { return ring_; }

 private:
  MessageProducer ring_;
  wave_prestaged_slot* slots_ = nullptr;
  uint32_t nr_cpus_ = 0;
  MemKind mem_ = MemKind::kWriteBack;
  std::vector<uint64_t> versions_;
};

struct DecisionStats {
  uint64_t prestaged_taken = 0;
  uint64_t prefetch_hits = 0;    // the prefetched line already held the decision taken
  uint64_t prefetch_misses = 0;  // it did not: read again at use
  uint64_t torn = 0;             // checksum mismatch: read while the NIC rewrote it
  uint64_t bad = 0;              // well-formed line carrying an invalid decision: skipped
};

class DecisionConsumer {
 public:
  enum class Take { kOk, kEmpty, kTorn, kBad };

  DecisionConsumer() = default;
  DecisionConsumer(MessageConsumer ring, const wave_prestaged_slot* slots, uint32_t nr_cpus,
                   MemKind mem, uint16_t cache_mode, const LinkModel* model);

  // Starts the read of cpu's prestaged slot across the link (flush, then prefetch).
  void Prefetch(uint32_t cpu);
  // Takes cpu's prestaged decision if it is newer than the last one taken and intact.
  Take TakePrestaged(uint32_t cpu, wave_decision* out);
  // Valid decisions from the ring.
  uint32_t PollRing(std::span<wave_decision> out);

  const DecisionStats& stats() const { return stats_; }
  MessageConsumer& ring() { return ring_; }
  uint32_t nr_cpus() const { return nr_cpus_; }

 private:
  struct PerCpu {
    uint64_t taken_version = 0;
    uint64_t prefetch_ns = 0;       // when the prefetch was issued (link model)
    uint64_t prefetch_version = 0;  // version the prefetched line would have carried
    bool prefetched = false;
  };

  MessageConsumer ring_;
  const wave_prestaged_slot* slots_ = nullptr;
  uint32_t nr_cpus_ = 0;
  MemKind mem_ = MemKind::kWriteBack;
  uint16_t cache_mode_ = 0;
  const LinkModel* model_ = nullptr;
  std::vector<PerCpu> cpus_;
  DecisionStats stats_;
};

// Checksum of a prestaged slot's version and body (wave_prestage_csum).
uint32_t PrestageChecksum(const wave_prestaged_slot& s);

}  // namespace wave

#endif  // WAVE_DECISION_QUEUE_H_
