// The tid index against a reference map under random inserts and erases.
#include <gtest/gtest.h>

#include <map>
#include <random>

#include "policies/sched/framework/task_table.h"

namespace wave::agents {
namespace {

TEST(TaskTable, MatchesAReferenceMap) {
  TaskTable t(64);
  EXPECT_EQ(t.capacity(), 64u);
  std::map<uint32_t, uint32_t> ref;
  std::mt19937 rng(3);
  for (int i = 0; i < 200000; i++) {
    uint32_t tid = 1 + rng() % 200;
    auto it = ref.find(tid);
    if (it == ref.end()) {
      uint32_t idx = t.insert(tid);
      if (ref.size() == 64) {
        EXPECT_EQ(idx, kNoIndex);
      } else {
        ASSERT_NE(idx, kNoIndex);
        ref[tid] = idx;
      }
    } else {
      ASSERT_EQ(t.find(tid), it->second);
      t.erase(it->second);
      ref.erase(it);
    }
    if (i % 1000 == 0) {
      for (uint32_t x = 1; x <= 200; x++) {
        auto r = ref.find(x);
        ASSERT_EQ(t.find(x), r == ref.end() ? kNoIndex : r->second) << x;
      }
    }
    ASSERT_EQ(t.size(), ref.size());
  }
}

TEST(TaskTable, ExtremeTids) {
  TaskTable t(8);
  for (uint32_t tid : {1u, 0xffffffffu, 0x80000000u, 7u})
    ASSERT_NE(t.insert(tid), kNoIndex);
  EXPECT_NE(t.find(0xffffffffu), kNoIndex);
  EXPECT_EQ(t.find(2), kNoIndex);
}

}  // namespace
}  // namespace wave::agents
