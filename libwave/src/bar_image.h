// Software side of the BAR's control page for backends where no kernel driver owns it
// (shm: this library plays both wave.ko and the NIC's init; vfio: it plays wave.ko).
#ifndef WAVE_SRC_BAR_IMAGE_H_
#define WAVE_SRC_BAR_IMAGE_H_

#include <cstdint>

#include "wave/device.h"

namespace wave {

// Writes a fresh control page and clears the doorbell page, the magic last.
void InitBarImage(uint8_t* bar, uint64_t bar_size, uint32_t nr_vectors, uint64_t features);

// Places a queue in the queue area (first fit between live queues) and publishes its table
// entry, state last. Returns the queue id.
Result<uint32_t> AllocQueueEntry(uint8_t* bar, uint64_t bar_size, const QueueSpec& spec);

// Retires a table entry, state first.
Status FreeQueueEntry(uint8_t* bar, uint32_t id);

// Validates a creation request like wave.ko does (size, dir, cache mode, kind, vector).
Status CheckQueueSpec(const QueueSpec& spec, uint32_t nr_vectors);

// The cache mode WAVE_CACHE_DEFAULT stands for in a direction.
uint16_t ResolveCacheMode(uint16_t cache_mode, uint16_t dir);

}  // namespace wave

#endif  // WAVE_SRC_BAR_IMAGE_H_
