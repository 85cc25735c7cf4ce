// Which BAR sizes the firmware accepts, whatever backs the BAR (an emulated function's file,
// wave.ko's loopback device, a real NIC's window).
#ifndef WAVE_NIC_FW_CONTROL_PLANE_BAR_SIZE_H_
#define WAVE_NIC_FW_CONTROL_PLANE_BAR_SIZE_H_

#include <bit>
#include <cstdint>

#include "wave_abi.h"

namespace wave::nic {

// The upper bound keeps a typo from eating the machine's memory; real BARs are far smaller.
inline bool ValidBarSize(uint64_t size) {
  return size >= WAVE_BAR_MIN_SIZE && size <= (1ull << 34) && std::has_single_bit(size);
}

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_BAR_SIZE_H_
