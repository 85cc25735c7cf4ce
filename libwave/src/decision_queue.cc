#include "wave/decision_queue.h"

#include <cstring>

#include "clock.h"

namespace wave {

uint32_t PrestageChecksum(const wave_prestaged_slot& s) {
  __u64 words[7];
  std::memcpy(words, &s, sizeof(words));
  return wave_prestage_csum(words);
}

DecisionProducer::DecisionProducer(MessageProducer ring, wave_prestaged_slot* slots,
                                   uint32_t nr_cpus, MemKind mem)
    : ring_(ring), slots_(slots), nr_cpus_(nr_cpus), mem_(mem), versions_(nr_cpus, 0) {
  for (uint32_t c = 0; c < nr_cpus; c++)
    versions_[c] = reinterpret_cast<volatile wave_prestaged_slot*>(&slots_[c])->version;
}

bool DecisionProducer::Prestage(uint32_t cpu, const wave_decision& d) {
  if (cpu >= nr_cpus_)
    return false;
  wave_prestaged_slot s{};
  s.version = ++versions_[cpu];
  std::memcpy(s.body, &d, sizeof(d));
  s.csum = PrestageChecksum(s);
  // One line: the reader checks the checksum, so the order of these stores does not matter
  // for safety; the fence makes the new line visible as a whole as early as possible.
  std::memcpy(&slots_[cpu], &s, sizeof(s));
  StoreFence(mem_);
  FlushWrites(mem_);
  return true;
}

DecisionConsumer::DecisionConsumer(MessageConsumer ring, const wave_prestaged_slot* slots,
                                   uint32_t nr_cpus, MemKind mem, uint16_t cache_mode,
                                   const LinkModel* model)
    : ring_(ring),
      slots_(slots),
      nr_cpus_(nr_cpus),
      mem_(mem),
      cache_mode_(cache_mode),
      model_(model),
      cpus_(nr_cpus) {
  // Decisions already in the slots belong to an earlier host: never take them.
  for (uint32_t c = 0; c < nr_cpus; c++)
    cpus_[c].taken_version =
        reinterpret_cast<const volatile wave_prestaged_slot*>(&slots_[c])->version;
}

void DecisionConsumer::Prefetch(uint32_t cpu) {
  if (cpu >= nr_cpus_)
    return;
  const wave_prestaged_slot* line = &slots_[cpu];
  if (mem_ == MemKind::kWriteThrough) {
    InvalidateLine(line);
    PrefetchLine(line);
  }
  PerCpu& pc = cpus_[cpu];
  pc.prefetched = cache_mode_ == WAVE_CACHE_WT || cache_mode_ == WAVE_CACHE_WC ||
                  cache_mode_ == WAVE_CACHE_WB || cache_mode_ == WAVE_CACHE_DEFAULT;
  if (model_) {
    // Remember what the line held when the prefetch left, to tell at use whether it was
    // fresh: in coherent shared memory the real load always sees the newest data.
    pc.prefetch_ns = NowNs();
    pc.prefetch_version = reinterpret_cast<const volatile wave_prestaged_slot*>(line)->version;
  }
}

DecisionConsumer::Take DecisionConsumer::TakePrestaged(uint32_t cpu, wave_decision* out) {
  if (cpu >= nr_cpus_)
    return Take::kBad;
  PerCpu& pc = cpus_[cpu];
  const wave_prestaged_slot* line = &slots_[cpu];
  if (mem_ == MemKind::kWriteThrough && !pc.prefetched)
    InvalidateLine(line);
  wave_prestaged_slot s;
  std::memcpy(&s, line, sizeof(s));
  LoadFence(mem_);
  if (model_) {
    const bool fresh = pc.prefetched && pc.prefetch_version == s.version;
    if (fresh) {
      const uint64_t ready = pc.prefetch_ns + model_->mmio_read_ns;
      const uint64_t now = NowNs();
      if (ready > now)
        LinkModel::Spin(static_cast<uint32_t>(ready - now));
      stats_.prefetch_hits++;
    } else {
      if (pc.prefetched)
        stats_.prefetch_misses++;
      ChargeRead(model_, cache_mode_, sizeof(s));
    }
  }
  pc.prefetched = false;
  if (s.version == 0 || s.version <= pc.taken_version)
    return Take::kEmpty;
  if (s.csum != PrestageChecksum(s)) {
    stats_.torn++;
    return Take::kTorn;
  }
  pc.taken_version = s.version;
  wave_decision d;
  std::memcpy(&d, s.body, sizeof(d));
  if (d.cpu != cpu || d.reserved != 0 || (d.flags & ~WAVE_DECISION_F_PRESTAGED) != 0 ||
      s.reserved != 0) {
    stats_.bad++;
    return Take::kBad;
  }
  *out = d;
  stats_.prestaged_taken++;
  return Take::kOk;
}

uint32_t DecisionConsumer::PollRing(std::span<wave_decision> out) {
  Message msgs[32];
  uint32_t total = 0;
  while (total < out.size()) {
    const size_t want = std::min<size_t>(32, out.size() - total);
    const uint32_t n = ring_.Poll(std::span<Message>(msgs, want));
    uint32_t got = 0;
    for (uint32_t i = 0; i < n; i++) {
      if (msgs[i].type != WAVE_MSG_DECISION) {
        stats_.bad++;  // other types do not belong on the decision ring
        continue;
      }
      out[total + got++] = msgs[i].decision;
    }
    total += got;
    if (n < want)
      break;
  }
  return total;
}

}  // namespace wave
