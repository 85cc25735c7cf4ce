#include "policies/sched/framework/task_table.h"

#include <bit>

namespace wave::agents {

const char* task_state_name(TaskState s) {
  switch (s) {
    case TaskState::kBlocked:
      return "blocked";
    case TaskState::kQueued:
      return "queued";
    case TaskState::kPending:
      return "pending";
    case TaskState::kOnCpu:
      return "on_cpu";
  }
  return "?";
}

TaskTable::TaskTable(uint32_t capacity) {
  uint32_t cap = std::bit_ceil(capacity < 8 ? 8u : capacity);
  pool_.resize(cap);
  free_.reserve(cap);
  for (uint32_t i = cap; i > 0; i--)
    free_.push_back(i - 1);
  buckets_.assign(size_t{cap} * 2, kNoIndex);
  mask_ = cap * 2 - 1;
  shift_ = 64 - std::countr_zero(cap * 2);
}

uint32_t TaskTable::find(uint32_t tid) const {
  for (uint32_t b = bucket_of(tid);; b = (b + 1) & mask_) {
    uint32_t slot = buckets_[b];
    if (slot == kNoIndex)
      return kNoIndex;
    if (pool_[slot].tid == tid)
      return slot;
  }
}

uint32_t TaskTable::insert(uint32_t tid) {
  if (free_.empty())
    return kNoIndex;
  uint32_t slot = free_.back();
  free_.pop_back();
  pool_[slot] = Task{};
  pool_[slot].tid = tid;
  uint32_t b = bucket_of(tid);
  while (buckets_[b] != kNoIndex)
    b = (b + 1) & mask_;
  buckets_[b] = slot;
  live_++;
  return slot;
}

void TaskTable::erase(uint32_t index) {
  uint32_t b = bucket_of(pool_[index].tid);
  while (buckets_[b] != index)
    b = (b + 1) & mask_;
  // Backward-shift deletion: move later entries of the probe run into the hole, so lookups
  // never need tombstones.
  uint32_t hole = b;
  for (uint32_t j = (hole + 1) & mask_; buckets_[j] != kNoIndex; j = (j + 1) & mask_) {
    uint32_t home = bucket_of(pool_[buckets_[j]].tid);
    // The entry at j may fill the hole if its home is not in the cyclic range (hole, j].
    bool home_in_range = hole <= j ? (home > hole && home <= j) : (home > hole || home <= j);
    if (!home_in_range) {
      buckets_[hole] = buckets_[j];
      hole = j;
    }
  }
  buckets_[hole] = kNoIndex;
  pool_[index] = Task{};
  free_.push_back(index);
  live_--;
}

}  // namespace wave::agents
