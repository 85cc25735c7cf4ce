// The agent's tasks: a fixed pool (no allocation after construction) and an open-addressing
// index from host tid to pool slot. Tids are untrusted 32-bit values, so the index has a fixed
// capacity and a full table refuses new tasks instead of growing.
#pragma once

#include <cstdint>
#include <vector>

#include "policies/sched/framework/task.h"

namespace wave::agents {

class TaskTable {
 public:
  // capacity: the most tasks alive at once (rounded up to a power of two, at least 8).
  explicit TaskTable(uint32_t capacity);

  uint32_t capacity() const { return static_cast<uint32_t>(pool_.size()); }
  uint32_t size() const { return live_; }

  // The pool index of `tid`, or kNoIndex.
  uint32_t find(uint32_t tid) const;
  // Adds `tid` (which must not be present) and returns its index, or kNoIndex when full.
  uint32_t insert(uint32_t tid);
  // Removes the task at `index` from the index and frees its slot.
  void erase(uint32_t index);

  Task& at(uint32_t index) { return pool_[index]; }
  const Task& at(uint32_t index) const { return pool_[index]; }
  uint32_t index_of(const Task& t) const { return static_cast<uint32_t>(&t - pool_.data()); }

  // Calls fn(Task&) for every live task (tests and priority refresh; not on the fast path).
  template <typename Fn>
  void for_each(Fn&& fn) {
    for (uint32_t slot : buckets_) {
      if (slot != kNoIndex)
        fn(pool_[slot]);
    }
  }
  template <typename Fn>
  void for_each(Fn&& fn) const {
    for (uint32_t slot : buckets_) {
      if (slot != kNoIndex)
        fn(pool_[slot]);
    }
  }

 private:
  uint32_t bucket_of(uint32_t tid) const {
    // Fibonacci hashing spreads sequential tids over the buckets.
    return static_cast<uint32_t>((uint64_t{tid} * 0x9e3779b97f4a7c15ull) >> shift_);
  }

  std::vector<Task> pool_;
  std::vector<uint32_t> free_;     // free pool slots (a stack)
  std::vector<uint32_t> buckets_;  // pool index or kNoIndex; twice the pool: load <= 1/2
  uint32_t mask_ = 0;
  uint32_t shift_ = 0;
  uint32_t live_ = 0;
};

}  // namespace wave::agents
