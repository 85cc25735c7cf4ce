// Ring descriptor validation, and the slow paths of the ring ends (credit reload and return).
#include "wave/ring.h"

#include <cerrno>

namespace wave {
namespace {

bool IsPowerOfTwo(uint64_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

Error Bad(const std::string& what) {
  return Error{EINVAL, "ring descriptor: " + what};
}

}  // namespace

Result<RingGeometry> ReadRingDesc(const volatile wave_ring_desc* desc, uint64_t region_size) {
  // Copy once, then check the copy: the other side may change the original meanwhile.
  wave_ring_desc d;
  std::memcpy(&d, const_cast<const wave_ring_desc*>(desc), sizeof(d));
  if (d.magic != WAVE_RING_MAGIC)
    return Bad("bad magic");
  if (d.version != WAVE_RING_VERSION) {
    return Bad("version " + std::to_string(d.version) + ", this side knows " +
               std::to_string(WAVE_RING_VERSION));
  }
  if (d.kind == 0 || d.kind > WAVE_RING_KIND_RAW)
    return Bad("unknown kind");
  if (!IsPowerOfTwo(d.slot_size) || d.slot_size < WAVE_CACHELINE ||
      d.slot_size > WAVE_RING_MAX_SLOT_SIZE) {
    return Bad("slot size " + std::to_string(d.slot_size));
  }
  if (!IsPowerOfTwo(d.nr_slots) || d.nr_slots > WAVE_RING_MAX_SLOTS) {
    return Bad("slot count " + std::to_string(d.nr_slots));
  }
  if (d.credit_batch == 0 || d.credit_batch > d.nr_slots / 2 + (d.nr_slots == 1)) {
    return Bad("credit batch " + std::to_string(d.credit_batch));
  }
  const uint64_t bytes = uint64_t{d.slot_size} * d.nr_slots;
  if (d.slots_off % WAVE_CACHELINE != 0 || d.slots_off < WAVE_REGION_HDR_SIZE ||
      d.slots_off > region_size || bytes > region_size - d.slots_off) {
    return Bad("slots outside the region");
  }
  if (d.credit_index >= WAVE_REGION_MAX_CREDITS)
    return Bad("credit index");
  if (d.flags & ~WAVE_RING_F_PRESTAGED)
    return Bad("unknown flags");
  if (d.flags & WAVE_RING_F_PRESTAGED) {
    const uint64_t pbytes = uint64_t{d.prestaged_nr} * sizeof(wave_prestaged_slot);
    if (d.prestaged_nr == 0 || d.prestaged_nr > 4096 || d.prestaged_off % WAVE_CACHELINE ||
        d.prestaged_off < WAVE_REGION_HDR_SIZE || d.prestaged_off > region_size ||
        pbytes > region_size - d.prestaged_off) {
      return Bad("prestaged slots outside the region");
    }
  }
  RingGeometry g;
  g.kind = d.kind;
  g.slot_size = d.slot_size;
  g.nr_slots = d.nr_slots;
  g.credit_batch = d.credit_batch;
  g.slots_off = d.slots_off;
  g.credit_queue = d.credit_queue;
  g.credit_index = d.credit_index;
  g.flags = d.flags;
  g.prestaged_nr = d.prestaged_nr;
  g.prestaged_off = d.prestaged_off;
  return g;
}

void WriteRingDesc(volatile wave_ring_desc* desc, const RingGeometry& geo) {
  wave_ring_desc d{};
  d.version = WAVE_RING_VERSION;
  d.kind = static_cast<uint16_t>(geo.kind);
  d.slot_size = geo.slot_size;
  d.nr_slots = geo.nr_slots;
  d.slots_off = geo.slots_off;
  d.credit_batch = geo.credit_batch;
  d.flags = geo.flags;
  d.credit_queue = geo.credit_queue;
  d.credit_index = geo.credit_index;
  d.prestaged_nr = geo.prestaged_nr;
  d.prestaged_off = geo.prestaged_off;
  // Everything but the magic, then the magic: a reader never sees a half-written entry.
  d.magic = 0;
  std::memcpy(const_cast<wave_ring_desc*>(desc), &d, sizeof(d));
  std::atomic_thread_fence(std::memory_order_release);
  desc->magic = WAVE_RING_MAGIC;
}

void ChargeRead(const LinkModel* model, uint16_t cache_mode, uint32_t bytes) {
  switch (cache_mode) {
    case WAVE_CACHE_UC:
      // Each 16-byte load is its own non-posted read, and they do not overlap.
      for (uint32_t b = 0; b < bytes; b += 16)
        model->MmioRead();
      break;
    case WAVE_CACHE_WT:
    case WAVE_CACHE_WC:
      // One line fill per cache line.
      for (uint32_t b = 0; b < bytes; b += WAVE_CACHELINE)
        model->MmioRead();
      break;
    default:
      break;  // local memory
  }
}

void ChargeWrite(const LinkModel* model, uint16_t cache_mode, uint32_t bytes) {
  switch (cache_mode) {
    case WAVE_CACHE_UC:
    case WAVE_CACHE_WT:
      // Each 8-byte store leaves as its own strongly ordered TLP.
      for (uint32_t b = 0; b < bytes; b += 8)
        model->UcWrite();
      break;
    case WAVE_CACHE_WC:
      model->WcFlush();  // merged into bursts, pushed by one fence per batch
      break;
    default:
      break;
  }
}

RingProducer::RingProducer(const RingEndpoint& ep) : ep_(ep) {
  const uint64_t c = LoadWord(reinterpret_cast<const volatile uint64_t*>(&ep_.credit->consumed));
  produced_ = credit_ = c;
}

void RingProducer::ReloadCredit() {
  stats_.credit_reads++;
  if (ep_.credit_mem == MemKind::kWriteThrough)
    InvalidateLine(ep_.credit);
  if (ep_.model)
    ChargeRead(ep_.model, ep_.credit_cache, 8);
  const uint64_t c = LoadWord(reinterpret_cast<const volatile uint64_t*>(&ep_.credit->consumed));
  LoadFence(ep_.credit_mem);
  if (c < credit_ || c > produced_) {
    stats_.bad_credits++;
    return;
  }
  credit_ = c;
}

RingConsumer::RingConsumer(const RingEndpoint& ep, Start start) : ep_(ep) {
  auto* committed = reinterpret_cast<volatile uint64_t*>(&ep_.consumer->committed);
  auto* epoch = reinterpret_cast<volatile uint64_t*>(&ep_.consumer->epoch);
  const uint64_t credit =
      LoadWord(reinterpret_cast<const volatile uint64_t*>(&ep_.credit->consumed));
  if (start == Start::kFresh) {
    pos_ = credited_ = 0;
    StoreWord(committed, 0);
  } else {
    // Resume at the restart point unless it is inconsistent with the credits we returned
    // earlier (credits never run ahead of it, and never trail it by more than a ring).
    const uint64_t c = LoadWord(committed);
    if (c >= credit && c - credit <= ep_.geo.nr_slots) {
      pos_ = c;
    } else {
      stats_.bad_credits++;
      pos_ = credit;
    }
    credited_ = credit;
  }
  StoreWord(epoch, LoadWord(epoch) + 1);
}

void RingConsumer::SendCredit() {
  StoreFence(ep_.credit_mem);
  StoreWord(reinterpret_cast<volatile uint64_t*>(&ep_.credit->consumed), pos_);
  FlushWrites(ep_.credit_mem);
  if (ep_.model)
    ChargeWrite(ep_.model, ep_.credit_cache, 8);
  credited_ = pos_;
  stats_.credits_sent++;
}

}  // namespace wave
