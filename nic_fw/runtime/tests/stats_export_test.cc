#include "runtime/stats_export.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "wave_abi.h"
#include "wave_stats.h"

namespace wave::rt {
namespace {

RuntimeStats sample() {
  RuntimeStats s;
  s.sched.fcfs_cores = 3;
  s.sched.drr_cores = 1;
  s.sched.nic_latency_mean_ns = 12'345;
  s.requests = 1'000'000;
  s.violations = 2;
  s.migrations_out = 1;
  for (ActorId i = 1; i <= 40; ++i) {  // more than fit: the table is cut, counts are not
    ActorStats a;
    a.id = i;
    a.name = "actor-with-a-long-name-" + std::to_string(i);
    a.sched.group = i % 2 ? CoreGroup::kDrr : CoreGroup::kFcfs;
    a.sched.location = i == 3 ? ActorLocation::kHost : ActorLocation::kNic;
    a.sched.exec_tail_ns = 1e12;  // saturates
    a.sched.processed = i * 10;
    a.pinned = i == 1;
    s.actors.push_back(a);
  }
  return s;
}

TEST(StatsExport, RoundTrip) {
  alignas(64) std::vector<unsigned char> area(WAVE_NIC_STATS_SIZE);
  export_stats(sample(), 4, area.data(), area.size());
  DecodedStats d;
  std::string err;
  ASSERT_TRUE(decode_stats(area.data(), area.size(), &d, &err)) << err;
  EXPECT_EQ(d.nr_cores, 4u);
  EXPECT_EQ(d.fcfs_cores, 3u);
  EXPECT_EQ(d.nic_mean_latency_ns, 12'345u);
  EXPECT_EQ(d.requests, 1'000'000u);
  ASSERT_EQ(d.actors.size(), WAVE_STATS_MAX_ACTORS);
  EXPECT_EQ(d.actors[0].name, "actor-with-a-lon");  // 16 chars fill the field
  EXPECT_TRUE(d.actors[0].pinned);
  EXPECT_EQ(d.actors[0].group, "drr");
  EXPECT_EQ(d.actors[2].location, "host");
  EXPECT_EQ(d.actors[0].exec_tail_ns, 0xffffffffu);
  EXPECT_EQ(d.actors[9].processed, 100u);
  EXPECT_NE(stats_json(d).find("\"migrations_out\":1"), std::string::npos);
  EXPECT_NE(stats_table(d).find("host"), std::string::npos);
}

TEST(StatsExport, DecoderRefusesBadAreas) {
  alignas(64) std::vector<unsigned char> area(WAVE_NIC_STATS_SIZE);
  DecodedStats d;
  std::string err;
  EXPECT_FALSE(decode_stats(area.data(), area.size(), &d, &err));  // zeroes: no magic
  export_stats(sample(), 4, area.data(), area.size());
  auto* h = reinterpret_cast<wave_stats_header*>(area.data());
  h->nr_actors = 200;
  EXPECT_FALSE(decode_stats(area.data(), area.size(), &d, &err));
  export_stats(sample(), 4, area.data(), area.size());
  h->version = 9;
  EXPECT_FALSE(decode_stats(area.data(), area.size(), &d, &err));
  EXPECT_NE(err.find("version 9"), std::string::npos);
  export_stats(sample(), 4, area.data(), area.size());
  h->seq = 3;  // a writer that never finishes
  EXPECT_FALSE(decode_stats(area.data(), area.size(), &d, &err));
  EXPECT_FALSE(decode_stats(area.data(), 16, &d, &err));
}

TEST(StatsExport, NamesAreSanitisedInOutput) {
  alignas(64) std::vector<unsigned char> area(WAVE_NIC_STATS_SIZE);
  RuntimeStats s;
  ActorStats a;
  a.id = 1;
  a.name = "evil\"\n\x1b[2J";
  s.actors.push_back(a);
  export_stats(s, 1, area.data(), area.size());
  DecodedStats d;
  std::string err;
  ASSERT_TRUE(decode_stats(area.data(), area.size(), &d, &err));
  EXPECT_EQ(stats_table(d).find('\x1b'), std::string::npos);
  const std::string j = stats_json(d);
  EXPECT_EQ(j.find('\x1b'), std::string::npos);
  EXPECT_NE(j.find("evil\\\""), std::string::npos);
}

}  // namespace
}  // namespace wave::rt
