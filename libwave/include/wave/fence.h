// Memory ordering for the link, per mapping kind.
//
// A ring's producer writes a slot's payload, then its sequence word; the consumer must never
// see the new sequence word with an old payload. What that takes depends on how the producer
// reaches the memory:
//
//  - WB (shared memory between two processes, the loopback device): the CPUs are coherent, so
//    a release store of the sequence word orders it after the payload stores, and the
//    consumer's acquire load of the sequence word orders its payload loads after it. On x86-64
//    both are plain moves (TSO); on arm64 they are STLR / LDAR.
//  - WC (x86-64 host writing NIC memory): write-combining stores are weakly ordered and sit in
//    the core's WC buffers. An SFENCE between payload and sequence word keeps them in order on
//    the link; a second SFENCE after the last sequence word of a batch pushes the buffers out
//    instead of waiting for them to be evicted. One pair of fences per batch, not per slot.
//  - WT / UC reads (x86-64 host reading NIC memory): a WT line stays cached and is not
//    invalidated by the NIC's writes, so a reader that wants fresh data CLFLUSHes the line
//    first, then loads (or PREFETCHes to start the load early); an LFENCE keeps the loads of
//    the payload after the load that validated the sequence word.
//  - arm64 (the NIC side writing its own DRAM, which the host reads over PCIe): DMB OSH
//    between payload and sequence word (outer shareable: the PCIe root complex observes in
//    order; full rather than OSHST so that a credit store also stays after the slot loads it
//    acknowledges) and DMB OSHLD after reading a sequence word that the host wrote by MMIO.
//    Device memory mapped nGnRE keeps program order by itself; Normal-NC needs the barriers.
//    Not tested here: this machine has no arm64 core.
#ifndef WAVE_FENCE_H_
#define WAVE_FENCE_H_

#include <atomic>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

namespace wave {

// How this side reaches a ring's memory; chosen from the queue's cache mode.
enum class MemKind : uint8_t {
  kWriteBack,       // coherent memory (shm backend, loopback device, the NIC's own DRAM)
  kWriteCombining,  // host stores to NIC memory through a WC mapping
  kWriteThrough,    // host loads from NIC memory through a WT mapping
  kUncached,        // host loads and stores through a UC mapping
};

// Between the payload stores and the sequence-word store of a slot (or of a batch).
inline void StoreFence(MemKind kind) {
#if defined(__x86_64__)
  if (kind == MemKind::kWriteCombining) {
    _mm_sfence();
    return;
  }
  std::atomic_signal_fence(std::memory_order_release);  // TSO orders WB/UC stores
#elif defined(__aarch64__)
  if (kind == MemKind::kWriteBack) {
    std::atomic_thread_fence(std::memory_order_release);  // DMB ISH
  } else {
    // Full outer-shareable barrier, not OSHST: a consumer returning credits must also keep
    // its earlier loads of the slots before the credit store.
    asm volatile("dmb osh" ::: "memory");
  }
#else
  (void)kind;
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// After the last sequence word of a batch: push write-combining buffers to the link.
inline void FlushWrites(MemKind kind) {
#if defined(__x86_64__)
  if (kind == MemKind::kWriteCombining)
    _mm_sfence();
#elif defined(__aarch64__)
  if (kind != MemKind::kWriteBack)
    asm volatile("dmb oshst" ::: "memory");
#else
  (void)kind;
#endif
}

// After loading a sequence word that validated a slot, before loading its payload.
inline void LoadFence(MemKind kind) {
#if defined(__x86_64__)
  if (kind == MemKind::kWriteThrough || kind == MemKind::kUncached) {
    _mm_lfence();
    return;
  }
  std::atomic_signal_fence(std::memory_order_acquire);
#elif defined(__aarch64__)
  if (kind == MemKind::kWriteBack) {
    std::atomic_thread_fence(std::memory_order_acquire);
  } else {
    asm volatile("dmb oshld" ::: "memory");
  }
#else
  (void)kind;
  std::atomic_thread_fence(std::memory_order_seq_cst);
#endif
}

// Drop this core's cached copy of a line that the other side of the link writes, so the next
// load fetches it again (WT mappings are not snooped by device writes).
inline void InvalidateLine(const volatile void* p) {
#if defined(__x86_64__)
  _mm_clflush(const_cast<const void*>(p));
#elif defined(__aarch64__)
  asm volatile("dc civac, %0" ::"r"(p) : "memory");
#else
  (void)p;
#endif
}

// Start fetching a line early. Paired with InvalidateLine for a WT mapping: flush, then
// prefetch, then do other work while the read crosses the link. Where the line cannot be
// flushed (no CLFLUSH, or a UC mapping that ignores prefetches) the fallback is a plain load
// at the time of use, which costs one link round trip.
inline void PrefetchLine(const volatile void* p) {
#if defined(__x86_64__)
  _mm_prefetch(reinterpret_cast<const char*>(const_cast<const void*>(p)), _MM_HINT_T0);
#else
  __builtin_prefetch(const_cast<const void*>(p), 0, 3);
#endif
}

inline void CpuRelax() {
#if defined(__x86_64__)
  _mm_pause();
#elif defined(__aarch64__)
  asm volatile("yield" ::: "memory");
#endif
}

// Loads and stores of words shared across the link. Volatile accesses of naturally aligned
// words are single instructions, never torn, and never merged or elided by the compiler.
inline uint64_t LoadWord(const volatile uint64_t* p) {
  return *p;
}
inline void StoreWord(volatile uint64_t* p, uint64_t v) {
  *p = v;
}

}  // namespace wave

#endif  // WAVE_FENCE_H_
