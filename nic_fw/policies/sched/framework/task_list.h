// An intrusive doubly linked list of pool tasks (a run queue), linked through Task::prev/next
// so enqueue, dequeue and removal from the middle are O(1) and never allocate.
#pragma once

#include <cstdint>

#include "policies/sched/framework/task_table.h"

namespace wave::agents {

class TaskList {
 public:
  bool empty() const { return head_ == kNoIndex; }
  uint32_t size() const { return size_; }
  uint32_t head() const { return head_; }

  void push_back(TaskTable& tt, uint32_t i) {
    Task& t = tt.at(i);
    t.prev = tail_;
    t.next = kNoIndex;
    if (tail_ != kNoIndex) {
      tt.at(tail_).next = i;
    } else {
      head_ = i;
    }
    tail_ = i;
    size_++;
  }

  void push_front(TaskTable& tt, uint32_t i) {
    Task& t = tt.at(i);
    t.prev = kNoIndex;
    t.next = head_;
    if (head_ != kNoIndex) {
      tt.at(head_).prev = i;
    } else {
      tail_ = i;
    }
    head_ = i;
    size_++;
  }

  void remove(TaskTable& tt, uint32_t i) {
    Task& t = tt.at(i);
    if (t.prev != kNoIndex) {
      tt.at(t.prev).next = t.next;
    } else {
      head_ = t.next;
    }
    if (t.next != kNoIndex) {
      tt.at(t.next).prev = t.prev;
    } else {
      tail_ = t.prev;
    }
    t.prev = t.next = kNoIndex;
    size_--;
  }

  // The first task, in list order, that may run on `cpu`; kNoIndex if none.
  uint32_t first_allowed(const TaskTable& tt, uint32_t cpu) const {
    uint64_t bit = uint64_t{1} << cpu;
    for (uint32_t i = head_; i != kNoIndex; i = tt.at(i).next) {
      if (tt.at(i).mask & bit)
        return i;
    }
    return kNoIndex;
  }

 private:
  uint32_t head_ = kNoIndex;
  uint32_t tail_ = kNoIndex;
  uint32_t size_ = 0;
};

}  // namespace wave::agents
