#include "runtime/runtime_config.h"

#include <gtest/gtest.h>

namespace wave::rt {
namespace {

TEST(Config, ParsesEveryKey) {
  RuntimeConfig cfg;
  std::string err;
  ASSERT_TRUE(parse_config(R"(# NIC runtime
cores = 4
mode = drr
tail_threshold_us = 50
mean_threshold_us = 900
alpha = 0.25
window = 32
drr_quantum_us = 5
watchdog_ms = 20
tick_us = 200
migration = off
migration_cooldown_ms = 7
pin_cpus = 2, 3
actor = fifo_agent sched cap=65536 pinned
actor = kv store drr   # trailing comment
)",
                           &cfg, &err))
      << err;
  EXPECT_EQ(cfg.sched.cores, 4u);
  EXPECT_EQ(cfg.sched.mode, SchedMode::kDrrOnly);
  EXPECT_EQ(cfg.sched.tail_threshold_ns, 50'000u);
  EXPECT_EQ(cfg.mean_threshold_ns, 900'000u);
  EXPECT_DOUBLE_EQ(cfg.sched.alpha, 0.25);
  EXPECT_EQ(cfg.sched.window, 32u);
  EXPECT_EQ(cfg.sched.drr_quantum_ns, 5'000u);
  EXPECT_EQ(cfg.watchdog_ns, 20'000'000u);
  EXPECT_EQ(cfg.tick_ns, 200'000u);
  EXPECT_FALSE(cfg.migration);
  EXPECT_EQ(cfg.migration_cooldown_ns, 7'000'000u);
  EXPECT_EQ(cfg.pin_cpus, (std::vector<int>{2, 3}));
  ASSERT_EQ(cfg.actors.size(), 2u);
  EXPECT_EQ(cfg.actors[0].type, "fifo_agent");
  EXPECT_EQ(cfg.actors[0].mem_cap_bytes, 65536u);
  EXPECT_TRUE(cfg.actors[0].pinned);
  EXPECT_TRUE(cfg.actors[1].start_in_drr);
}

TEST(Config, RejectsBadInputWithLineNumber) {
  const char* bad[] = {"cores = 0",         "cores = 65",          "cores = 2x",
                       "mode = lifo",       "alpha = 1",           "alpha = nan",
                       "bogus = 1",         "no equals sign",      "actor = onlytype",
                       "actor = t n cap=0", "actor = t n sparkle", "pin_cpus = 1,,2",
                       "migration = maybe", "window = -3"};
  for (const char* text : bad) {
    RuntimeConfig cfg;
    std::string err;
    EXPECT_FALSE(parse_config(std::string("\n") + text, &cfg, &err)) << text;
    EXPECT_NE(err.find("line 2"), std::string::npos) << err;
  }
}

}  // namespace
}  // namespace wave::rt
