// The single-producer single-consumer ring of the link (layout: uapi/wave_ring.h).
//
// Producer: writes payloads and headers of a batch, one store fence, then the batch's sequence
// words, then one flush. It learns that there is room from a credit cell in its own memory,
// which it reads only when its cached credit says the ring is full.
// Consumer: accepts the slot at position pos only if its sequence word is pos + 1, never
// writes a slot, and returns credits every credit_batch slots and when it runs dry.
// Everything read from shared memory is checked; inconsistent slots and credits are counted.
#ifndef WAVE_RING_H_
#define WAVE_RING_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <utility>

#include "wave/fence.h"
#include "wave/link_model.h"
#include "wave/result.h"
#include "wave_abi.h"
#include "wave_ring.h"

namespace wave {

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the Wave ABI is little-endian");

inline constexpr uint32_t kSlotHeaderSize = sizeof(wave_slot_hdr);

// A ring's validated shape.
struct RingGeometry {
  uint32_t kind = WAVE_RING_KIND_RAW;
  uint32_t slot_size = 64;
  uint32_t nr_slots = 0;
  uint32_t credit_batch = 0;
  uint64_t slots_off = 0;
  uint32_t credit_queue = 0;
  uint32_t credit_index = 0;
  uint32_t flags = 0;
  uint32_t prestaged_nr = 0;
  uint64_t prestaged_off = 0;

  uint64_t slots_bytes() const { return uint64_t{slot_size} * nr_slots; }
};

// Checks a descriptor read from a region of region_size bytes (untrusted: another process or
// the other side of the link may have written it).
Result<RingGeometry> ReadRingDesc(const volatile wave_ring_desc* desc, uint64_t region_size);
// Writes a descriptor (the region's creator, before the queue is announced).
void WriteRingDesc(volatile wave_ring_desc* desc, const RingGeometry& geo);

// Counters of one ring end. Plain integers: each end is used by one thread.
struct RingStats {
  uint64_t messages = 0;      // produced or consumed
  uint64_t batches = 0;       // non-empty enqueue/dequeue calls
  uint64_t full = 0;          // enqueue found no room
  uint64_t credit_reads = 0;  // producer re-read its credit cell (slow path)
  uint64_t credits_sent = 0;  // consumer wrote the credit cell
  uint64_t bad_credits = 0;   // credit outside [last credit, produced]: ignored
  uint64_t bad_slots = 0;     // slot with a valid sequence word but a bad header: dropped
  uint64_t garbage_seqs = 0;  // sequence word that is neither this lap nor the last: waited on
};

// Where one end of a ring lives and how this side reaches it.
struct RingEndpoint {
  uint8_t* slots = nullptr;
  RingGeometry geo;
  wave_ring_credit* credit = nullptr;      // in the producer's memory
  wave_ring_consumer* consumer = nullptr;  // in the ring's region, written by the consumer
  MemKind slot_mem = MemKind::kWriteBack;
  MemKind credit_mem = MemKind::kWriteBack;
  // Nominal cost of this side's accesses on a real link, charged when model is set.
  const LinkModel* model = nullptr;
  uint16_t slot_cache = 0;    // WAVE_CACHE_* this side would use for the slots on hardware
  uint16_t credit_cache = 0;  // and for the credit cell
};

// Cost of reaching `bytes` through a mapping of the given cache mode, on the modelled link.
void ChargeRead(const LinkModel* model, uint16_t cache_mode, uint32_t bytes);
void ChargeWrite(const LinkModel* model, uint16_t cache_mode, uint32_t bytes);

class RingProducer {
 public:
  RingProducer() = default;
  // Starts at the position the credit cell says the consumer has reached (a fresh ring: 0).
  explicit RingProducer(const RingEndpoint& ep);

  uint32_t payload_capacity() const { return ep_.geo.slot_size - kSlotHeaderSize; }
  uint64_t position() const { return produced_; }
  const RingStats& stats() const { return stats_; }

  // Free slots, reading the credit cell only if the cached credit shows fewer than want.
  uint32_t Room(uint32_t want) {
    const uint64_t free = ep_.geo.nr_slots - (produced_ - credit_);
    if (free >= want)
      return want;
    ReloadCredit();
    const uint64_t now = ep_.geo.nr_slots - (produced_ - credit_);
    if (now == 0)
      stats_.full++;
    return static_cast<uint32_t>(std::min<uint64_t>(now, want));
  }

  // Writes up to n messages. fill(i, payload) writes message i's payload (at most
  // payload_capacity() bytes) and returns {type, len}. Returns the number written.
  template <typename Fill>
  uint32_t EnqueueBatch(uint32_t n, Fill&& fill) {
    const uint32_t count = Room(n);
    if (count == 0)
      return 0;
    // All bodies, one fence, all sequence words, one flush. Across the link that is one
    // SFENCE pair per batch; in coherent memory it also keeps a polling consumer from
    // pulling each line away while it is being written: it can only take a slot's line once
    // the whole batch is written.
    for (uint32_t i = 0; i < count; i++)
      WriteBody(SlotAt(produced_ + i), i, fill);
    StoreFence(ep_.slot_mem);
    // Last slot first: a consumer waiting on the batch's first slot finds, once it is valid,
    // the rest valid too (stores are seen in order in coherent memory) instead of chasing the
    // producer slot by slot. Correctness does not depend on the order: every slot is checked.
    for (uint32_t i = count; i-- > 0;) {
      const uint64_t pos = produced_ + i;
      StoreWord(reinterpret_cast<volatile uint64_t*>(SlotAt(pos)), pos + 1);
    }
    FlushWrites(ep_.slot_mem);
    if (ep_.model)
      ChargeWrite(ep_.model, ep_.slot_cache, count * ep_.geo.slot_size);
    produced_ += count;
    stats_.messages += count;
    stats_.batches++;
    return count;
  }

  // One message; false when the ring is full or len is too large.
  bool Enqueue(uint16_t type, const void* data, uint16_t len) {
    if (len > payload_capacity())
      return false;
    return EnqueueBatch(1, [&](uint32_t, uint8_t* payload) {
             std::memcpy(payload, data, len);
             return std::pair<uint16_t, uint16_t>{type, len};
           }) == 1;
  }

 private:
  uint8_t* SlotAt(uint64_t pos) const {
    return ep_.slots + (pos & (ep_.geo.nr_slots - 1)) * uint64_t{ep_.geo.slot_size};
  }
  // Payload, then type, len and flags (zero) as one 64-bit store after the sequence word.
  template <typename Fill>
  static void WriteBody(uint8_t* slot, uint32_t i, Fill& fill) {
    const auto [type, len] = fill(i, slot + kSlotHeaderSize);
    const uint64_t meta =
        uint64_t{static_cast<uint16_t>(type)} | (uint64_t{static_cast<uint16_t>(len)} << 16);
    StoreWord(reinterpret_cast<volatile uint64_t*>(slot + 8), meta);
  }
  void ReloadCredit();

  RingEndpoint ep_;
  uint64_t produced_ = 0;
  uint64_t credit_ = 0;  // consumer's position as last read from the credit cell
  RingStats stats_;
};

class RingConsumer {
 public:
  enum class Start { kFresh, kResume };

  RingConsumer() = default;
  // kFresh starts at 0 and resets the restart point; kResume continues from the committed
  // position of a previous consumer (checked against the credit cell).
  RingConsumer(const RingEndpoint& ep, Start start);

  uint64_t position() const { return pos_; }
  const RingStats& stats() const { return stats_; }
  uint32_t payload_capacity() const { return ep_.geo.slot_size - kSlotHeaderSize; }

  // Hands up to max valid messages to visit(type, payload, len) in order. The payload is the
  // slot itself: visit must copy what it keeps before checking it (the producer is untrusted).
  // After the batch the restart point is committed and, if due, credits are returned.
  template <typename Visit>
  uint32_t DequeueBatch(uint32_t max, Visit&& visit) {
    uint32_t delivered = 0;
    const uint64_t start = pos_;
    while (delivered < max) {
      const uint8_t* slot = SlotAt(pos_);
      if (ep_.model)
        ChargeRead(ep_.model, ep_.slot_cache, WAVE_CACHELINE);
      if (ep_.slot_mem == MemKind::kWriteThrough)
        InvalidateLine(slot);
      const uint64_t seq = LoadWord(reinterpret_cast<const volatile uint64_t*>(slot));
      if (seq != pos_ + 1) {
        NoteNotReady(seq);
        break;
      }
      LoadFence(ep_.slot_mem);
      const uint64_t meta = LoadWord(reinterpret_cast<const volatile uint64_t*>(slot + 8));
      const uint16_t type = static_cast<uint16_t>(meta);
      const uint16_t len = static_cast<uint16_t>(meta >> 16);
      const uint32_t flags = static_cast<uint32_t>(meta >> 32);
      if (len > payload_capacity() || flags != 0) {
        stats_.bad_slots++;
      } else {
        if (ep_.model && len + kSlotHeaderSize > WAVE_CACHELINE)
          ChargeRead(ep_.model, ep_.slot_cache, len + kSlotHeaderSize - WAVE_CACHELINE);
        visit(type, slot + kSlotHeaderSize, len);
        delivered++;
      }
      pos_++;
    }
    if (pos_ != start) {
      stats_.messages += delivered;
      stats_.batches++;
      Commit();
    } else if (pos_ != credited_) {
      SendCredit();  // ran dry: let the producer see everything we have read
    }
    return delivered;
  }

  // Returns credits now (for example before going to sleep).
  void SendCredit();

 private:
  const uint8_t* SlotAt(uint64_t pos) const {
    return ep_.slots + (pos & (ep_.geo.nr_slots - 1)) * uint64_t{ep_.geo.slot_size};
  }
  void NoteNotReady(uint64_t seq) {
    // Empty: never written (0) or still holding the previous lap.
    if (seq == 0 || seq == pos_ + 1 - ep_.geo.nr_slots)
      return;
    if (last_garbage_pos_ != pos_ + 1) {
      stats_.garbage_seqs++;
      last_garbage_pos_ = pos_ + 1;
    }
  }
  void Commit() {
    StoreFence(ep_.credit_mem);
    StoreWord(reinterpret_cast<volatile uint64_t*>(&ep_.consumer->committed), pos_);
    if (pos_ - credited_ >= ep_.geo.credit_batch)
      SendCredit();
  }

  RingEndpoint ep_;
  uint64_t pos_ = 0;
  uint64_t credited_ = 0;
  uint64_t last_garbage_pos_ = 0;  // position + 1 of the last garbage sequence word counted
  RingStats stats_;
};

}  // namespace wave

#endif  // WAVE_RING_H_
