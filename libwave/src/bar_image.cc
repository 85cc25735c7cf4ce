#include "bar_image.h"

#include <atomic>
#include <cerrno>
#include <cstring>

namespace wave {
namespace {

wave_control_page* Control(uint8_t* bar) {
  return reinterpret_cast<wave_control_page*>(bar);
}

}  // namespace

void InitBarImage(uint8_t* bar, uint64_t bar_size, uint32_t nr_vectors, uint64_t features) {
  std::memset(bar, 0, WAVE_BAR_QUEUE_AREA_OFF);
  wave_control_page* c = Control(bar);
  c->abi_major = WAVE_ABI_MAJOR;
  c->abi_minor = WAVE_ABI_MINOR;
  c->features = features;
  c->bar_size = bar_size;
  c->heartbeat_period_us = 1000;
  c->nr_vectors = nr_vectors;
  c->nic_state = WAVE_NIC_STATE_READY;
  c->host_state = WAVE_HOST_STATE_ATTACHED;
  std::atomic_thread_fence(std::memory_order_release);
  reinterpret_cast<volatile uint32_t*>(&c->magic)[0] = WAVE_ABI_MAGIC;
}

uint16_t ResolveCacheMode(uint16_t cache_mode, uint16_t dir) {
  if (cache_mode != WAVE_CACHE_DEFAULT)
    return cache_mode;
  return dir == WAVE_DIR_HOST_TO_NIC ? WAVE_CACHE_WC : WAVE_CACHE_WT;
}

Status CheckQueueSpec(const QueueSpec& s, uint32_t nr_vectors) {
  if (s.size == 0 || s.size % WAVE_PAGE_SIZE)
    return Error{EINVAL, "queue size"};
  if (s.dir != WAVE_DIR_HOST_TO_NIC && s.dir != WAVE_DIR_NIC_TO_HOST)
    return Error{EINVAL, "queue direction"};
  if (s.cache_mode > WAVE_CACHE_WT)
    return Error{EINVAL, "queue cache mode"};
  if (s.kind > WAVE_QKIND_MAX)
    return Error{EINVAL, "queue kind"};
  if (s.vector >= nr_vectors)
    return Error{EINVAL, "queue vector"};
  return {};
}

Result<uint32_t> AllocQueueEntry(uint8_t* bar, uint64_t bar_size, const QueueSpec& spec) {
  wave_control_page* c = Control(bar);
  if (Status st = CheckQueueSpec(spec, c->nr_vectors); !st)
    return st.error();
  uint32_t free_id = WAVE_MAX_QUEUES;
  for (uint32_t i = 0; i < WAVE_MAX_QUEUES; i++) {
    if (c->queues[i].state == WAVE_QSTATE_FREE) {
      free_id = i;
      break;
    }
  }
  if (free_id == WAVE_MAX_QUEUES)
    return Error{EMFILE, "queue table full"};
  // First fit: try the queue area start and the end of every live queue.
  auto overlaps = [&](uint64_t off) {
    for (uint32_t i = 0; i < WAVE_MAX_QUEUES; i++) {
      const wave_queue_desc& q = c->queues[i];
      if (q.state != WAVE_QSTATE_ACTIVE)
        continue;
      if (off < q.offset + q.size && q.offset < off + spec.size)
        return true;
    }
    return false;
  };
  uint64_t chosen = 0;
  bool found = false;
  for (int32_t i = -1; i < static_cast<int32_t>(WAVE_MAX_QUEUES) && !found; i++) {
    uint64_t off = WAVE_BAR_QUEUE_AREA_OFF;
    if (i >= 0) {
      if (c->queues[i].state != WAVE_QSTATE_ACTIVE)
        continue;
      off = c->queues[i].offset + c->queues[i].size;
    }
    if (off + spec.size <= bar_size && !overlaps(off)) {
      chosen = off;
      found = true;
    }
  }
  if (!found)
    return Error{ENOSPC, "no room in the queue area"};
  std::memset(bar + chosen, 0, spec.size);
  wave_queue_desc& q = c->queues[free_id];
  q.generation = q.generation + 1;
  q.offset = chosen;
  q.size = spec.size;
  q.dir = spec.dir;
  q.cache_mode = ResolveCacheMode(spec.cache_mode, spec.dir);
  q.kind = spec.kind;
  q.vector = spec.vector;
  std::atomic_thread_fence(std::memory_order_release);
  reinterpret_cast<volatile uint32_t*>(&q.state)[0] = WAVE_QSTATE_ACTIVE;
  c->queue_table_gen = c->queue_table_gen + 1;
  return free_id;
}

Status FreeQueueEntry(uint8_t* bar, uint32_t id) {
  wave_control_page* c = Control(bar);
  if (id >= WAVE_MAX_QUEUES || c->queues[id].state != WAVE_QSTATE_ACTIVE)
    return Error{ENOENT, "no such queue"};
  reinterpret_cast<volatile uint32_t*>(&c->queues[id].state)[0] = WAVE_QSTATE_FREE;
  std::atomic_thread_fence(std::memory_order_release);
  c->queue_table_gen = c->queue_table_gen + 1;
  return {};
}

}  // namespace wave
