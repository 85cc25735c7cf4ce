// Loads and stores of little-endian words in memory shared with the other side of the link.
//
// The BAR is written concurrently by the host, so every access goes through std::atomic_ref:
// a word is read once, whole, and never torn. Relaxed order is enough for counters and for
// fields read under an explicit fence; callers that publish data (write payload, then a magic
// or state word) use PublishLe / ConsumeLe, which carry release / acquire order.
#ifndef WAVE_NIC_FW_BASE_SHARED_WORD_H_
#define WAVE_NIC_FW_BASE_SHARED_WORD_H_

#include <endian.h>

#include <atomic>
#include <concepts>
#include <cstdint>

namespace wave::nic {

// The uapi's __le16/__le32/__le64 are plain unsigned integers in user space.
template <typename T>
concept LeWord = std::unsigned_integral<T> &&(sizeof(T) == 2 || sizeof(T) == 4 || sizeof(T) == 8);

template <LeWord T>
constexpr T LeToHost(T v) {
  if constexpr (sizeof(T) == 2) {
    return le16toh(v);
  } else if constexpr (sizeof(T) == 4) {
    return le32toh(v);
  } else {
    return le64toh(v);
  }
}

template <LeWord T>
constexpr T HostToLe(T v) {
  if constexpr (sizeof(T) == 2) {
    return htole16(v);
  } else if constexpr (sizeof(T) == 4) {
    return htole32(v);
  } else {
    return htole64(v);
  }
}

template <LeWord T>
inline T LoadLe(const T& word) {
  return LeToHost(std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_relaxed));
}

template <LeWord T, std::integral V>
inline void StoreLe(T& word, V value) {
  std::atomic_ref<T>(word).store(HostToLe(static_cast<T>(value)), std::memory_order_relaxed);
}

// Everything written before this store is visible to a reader that sees the value.
template <LeWord T, std::integral V>
inline void PublishLe(T& word, V value) {
  std::atomic_ref<T>(word).store(HostToLe(static_cast<T>(value)), std::memory_order_release);
}

// Everything the writer stored before publishing the value is visible after this load.
template <LeWord T>
inline T ConsumeLe(const T& word) {
  return LeToHost(std::atomic_ref<T>(const_cast<T&>(word)).load(std::memory_order_acquire));
}

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_SHARED_WORD_H_
