// wave-nicd's runtime service: configured by settings, publishes stats into the control page.
#include "runtime/nic_service.h"

#include <gtest/gtest.h>

#include <cstring>
#include <thread>
#include <vector>

#include "runtime/stats_export.h"
#include "wave_abi.h"

namespace wave::rt {
namespace {

TEST(NicService, PublishesStatsInTheControlPage) {
  alignas(4096) static std::byte bar[3 * 4096];
  std::memset(bar, 0, sizeof bar);  // no stats from an earlier run of this test
  std::string err;
  auto svc = NicRuntimeService::Start(
      "", {"cores=2", "tick_us=200", "actor=counter hits pinned", "actor=echo ping drr"}, bar,
      &err);
  ASSERT_TRUE(svc) << err;
  for (uint64_t i = 0; i < 10; ++i) {
    Message m;
    m.request_id = i;
    m.dst = 1;  // the first actor of the config
    svc->runtime().post(std::move(m));
  }
  DecodedStats d;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  for (;;) {
    ASSERT_LT(std::chrono::steady_clock::now(), deadline) << err;
    if (decode_stats(bar + WAVE_NIC_STATS_OFF, WAVE_NIC_STATS_SIZE, &d, &err) &&
        d.actors.size() == 2 && d.actors[0].processed == 10 && svc->unclaimed_replies() == 10) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  EXPECT_EQ(d.nr_cores, 2u);
  EXPECT_EQ(d.actors[0].name, "hits");
  EXPECT_TRUE(d.actors[0].pinned);
  EXPECT_EQ(d.actors[1].name, "ping");
  EXPECT_EQ(d.actors[1].group, "drr");
  EXPECT_EQ(d.requests, 10u);
  EXPECT_EQ(svc->unclaimed_replies(), 10u);
}

TEST(NicService, RefusesBadSettings) {
  alignas(4096) static std::byte bar[4096];
  std::string err;
  EXPECT_FALSE(NicRuntimeService::Start("", {"cores=0"}, bar, &err));
  EXPECT_FALSE(NicRuntimeService::Start("", {"nonsense"}, bar, &err));
  EXPECT_FALSE(NicRuntimeService::Start("", {"actor=unknown_type x"}, bar, &err));
  EXPECT_FALSE(NicRuntimeService::Start("/nonexistent/runtime.conf", {}, bar, &err));
  EXPECT_NE(err.find("cannot open"), std::string::npos);
}

}  // namespace
}  // namespace wave::rt
