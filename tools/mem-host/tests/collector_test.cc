// The Collector on this host's kernel: the BPF program on damon_aggregated, batches from a
// kdamond that is already running (read only), and DamonMonitor + Collector end to end with
// a child whose memory has a hot and a cold part.
#include "collector.h"

#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <gtest/gtest.h>

#include "child_process.h"
#include "damon_monitor.h"
#include "target_table.h"

namespace wave::mem {
namespace {

constexpr char kAdmin[] = "/sys/kernel/mm/damon/admin";

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

struct Batch {
  BatchInfo info;
  uint64_t received_ns = 0;
  std::vector<Region> regions;
};

struct Sink {
  std::vector<Batch> batches;
  BatchCallback cb() {
    return [this](const BatchInfo& i, std::span<const Region> r) {
      batches.push_back(Batch{i, NowNs(), {r.begin(), r.end()}});
    };
  }
};

void ExpectWellFormed(const Batch& b) {
  std::vector<uint8_t> buf(BatchBytes(b.regions.size()));
  ASSERT_EQ(EncodeBatch(b.info, b.regions, buf), buf.size());
  BatchInfo back;
  std::vector<Region> regions;
  EXPECT_EQ(DecodeBatch(buf, &back, &regions), BatchError::kOk);
}

// A running kdamond of someone else (this host runs one): records of it only, read only.
TEST(Collector, BatchesFromARunningKdamond) {
  if (geteuid() != 0)
    GTEST_SKIP() << "loading BPF needs root";
  Result<std::string> nr = ReadSysfs(std::string(kAdmin) + "/kdamonds/nr_kdamonds");
  if (!nr.ok())
    GTEST_SKIP() << "no DAMON sysfs: " << nr.error().message;
  int pid = -1;
  std::string dir;
  for (int i = 0; i < atoi(nr->c_str()); i++) {
    dir = std::string(kAdmin) + "/kdamonds/" + std::to_string(i);
    Result<std::string> state = ReadSysfs(dir + "/state");
    Result<std::string> p = ReadSysfs(dir + "/pid");
    if (state.ok() && *state == "on" && p.ok() && atoi(p->c_str()) > 0) {
      pid = atoi(p->c_str());
      break;
    }
  }
  if (pid <= 0)
    GTEST_SKIP() << "no running sysfs kdamond to read from";
  const std::string iv = dir + "/contexts/0/monitoring_attrs/intervals/";
  const uint32_t aggr_us = static_cast<uint32_t>(atoi(ReadSysfs(iv + "aggr_us")->c_str()));
  const uint32_t sample_us = static_cast<uint32_t>(atoi(ReadSysfs(iv + "sample_us")->c_str()));
  const uint32_t nr_targets =
      static_cast<uint32_t>(atoi(ReadSysfs(dir + "/contexts/0/targets/nr_targets")->c_str()));
  if (aggr_us == 0 || sample_us == 0 || aggr_us > 10000000 || nr_targets == 0)
    GTEST_SKIP() << "kdamond " << pid << ": aggr_us " << aggr_us << ", not usable here";

  Sink sink;
  CollectorOptions o;
  o.aggr_us = aggr_us;
  o.max_accesses = static_cast<uint16_t>(std::min<uint32_t>(aggr_us / sample_us, 65535));
  Result<std::unique_ptr<Collector>> c = Collector::Create(o, sink.cb(), nullptr, pid);
  if (!c.ok())
    GTEST_SKIP() << "BPF collector not loadable here: " << c.error().message;
  std::vector<TargetSlot> slots;
  for (uint32_t i = 0; i < nr_targets; i++)
    slots.push_back({100 + i, 0});
  (*c)->SetTargets(slots);
  const uint64_t until = NowNs() + 3ull * aggr_us * 1000 + 2000000000ull;
  while (sink.batches.size() < 3 && NowNs() < until)
    ASSERT_TRUE((*c)->Poll(200).ok());
  const CollectorCounters k = (*c)->counters();
  printf(
      "kdamond %d (aggr %u us, sample %u us): %zu batches, %llu records, %llu filtered "
      "(other kdamonds), %llu lost, %llu cut, %llu timed out\n",
      pid, aggr_us, sample_us, sink.batches.size(), (unsigned long long)k.bpf_recorded,
      (unsigned long long)k.bpf_filtered, (unsigned long long)k.bpf_lost,
      (unsigned long long)k.assembler.cut, (unsigned long long)k.assembler.timed_out);
  ASSERT_GE(sink.batches.size(), 2u) << "no batches within 3 aggregation intervals";
  for (size_t i = 0; i < sink.batches.size(); i++) {
    const Batch& b = sink.batches[i];
    ExpectWellFormed(b);
    printf("  batch %llu: %zu regions, %.3f s after the previous\n", (unsigned long long)b.info.seq,
           b.regions.size(), i ? (b.received_ns - sink.batches[i - 1].received_ns) / 1e9 : 0.0);
    if (i > 0) {
      const double gap = (b.received_ns - sink.batches[i - 1].received_ns) / 1e3;
      EXPECT_NEAR(gap, aggr_us, aggr_us * 0.5) << "batches not one per aggregation";
    }
  }
  EXPECT_EQ(k.bpf_lost, 0u);
  EXPECT_EQ(k.assembler.unknown_target, 0u);
}

// DamonMonitor + Collector: a child touching 8 MiB of its 64 MiB.
TEST(Collector, EndToEndHotAndCold) {
  if (geteuid() != 0)
    GTEST_SKIP() << "DAMON sysfs and BPF need root";
  Result<std::string> before = ReadSysfs(std::string(kAdmin) + "/kdamonds/nr_kdamonds");
  if (!before.ok())
    GTEST_SKIP() << "no DAMON sysfs: " << before.error().message;
  DamonConfig dc;
  dc.sample_us = 5000;
  dc.aggr_us = 100000;
  dc.update_us = 1000000;
  Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(dc);
  if (!m.ok())
    GTEST_SKIP() << "no DAMON monitor of our own here: " << m.error().message;

  testing::Child child;
  testing::ChildOptions co;
  co.anon_len = 64ull << 20;
  co.hot_len = 8ull << 20;
  ASSERT_TRUE(child.Start(co));
  const auto& l = child.layout();
  TargetTable targets;
  Result<uint32_t> id = targets.Add(child.pid());
  ASSERT_TRUE(id.ok());
  PagedOutSet paged;
  paged.Add(*id, l.anon + (40ull << 20), l.anon + (41ull << 20));

  Sink sink;
  CollectorOptions o;
  o.aggr_us = dc.aggr_us;
  o.max_accesses = (*m)->max_accesses();
  Result<std::unique_ptr<Collector>> c = Collector::Create(o, sink.cb(), &paged, 0);
  if (!c.ok())
    GTEST_SKIP() << "BPF collector not loadable here: " << c.error().message;
  MonitoredTarget mt{*id, child.pid()};
  const uint64_t t0 = NowNs();
  Status set = (*m)->SetTargets({&mt, 1});
  ASSERT_TRUE(set.ok()) << set.error().message;
  ASSERT_TRUE((*m)->running());
  (*c)->SetKdamondPid((*m)->kdamond_pid());
  (*c)->SetTargets((*m)->slots());

  // First batch within a few aggregation intervals (0.13-0.2 s seen in the VM; 1.3 s while
  // the machine ran another VM: QEMU's TCG is slow under load).
  while (sink.batches.empty() && NowNs() < t0 + 3000000000ull)
    ASSERT_TRUE((*c)->Poll(100).ok());
  ASSERT_FALSE(sink.batches.empty()) << "no batch within 3 s (aggr 100 ms)";
  printf("first batch %.3f s after the kdamond started\n",
         (sink.batches[0].received_ns - t0) / 1e9);

  // Then let DAMON's adaptive regions separate the hot part from the cold one.
  bool separated = false;
  const uint64_t until = NowNs() + 20000000000ull;
  while (!separated && NowNs() < until) {
    ASSERT_TRUE((*c)->Poll(100).ok());
    if (sink.batches.size() < 20)
      continue;
    const Batch& b = sink.batches.back();
    // Hot: a region mostly inside the touched 8 MiB shows accesses. Cold: every region
    // reaching into [16 MiB, 64 MiB) of the mapping shows none (regions may extend past the
    // mapping into its untouched neighbours).
    bool hot = false, cold_quiet = true, cold_seen = false;
    const uint64_t cold_lo = l.anon + (16ull << 20), cold_hi = l.anon + l.anon_len;
    for (const Region& r : b.regions) {
      if (r.target != *id)
        continue;
      const uint64_t hs = std::max(r.start, l.hot), he = std::min(r.end, l.hot + l.hot_len);
      if (he > hs && 2 * (he - hs) >= r.bytes() && r.nr_accesses > 0)
        hot = true;
      if (r.start < cold_hi && r.end > cold_lo) {
        cold_seen = true;
        cold_quiet &= r.nr_accesses == 0;
      }
    }
    separated = hot && cold_seen && cold_quiet;
  }
  const Batch& b = sink.batches.back();
  size_t n = 0;
  uint64_t covered = 0;
  bool flagged = false;
  for (const Region& r : b.regions) {
    ASSERT_EQ(r.target, *id);
    n++;
    const uint64_t s = std::max(r.start, l.anon), e = std::min(r.end, l.anon + l.anon_len);
    if (e > s)
      covered += e - s;
    if (r.flags & WAVE_MEM_REGION_F_PAGED_OUT)
      flagged = r.start < l.anon + (41ull << 20) && r.end > l.anon + (40ull << 20);
    if (e > s)
      printf("  [%#llx, %#llx) at %+.1f MiB: nr_accesses %u age %u%s\n",
             (unsigned long long)r.start, (unsigned long long)r.end,
             (static_cast<double>(r.start) - static_cast<double>(l.anon)) / (1 << 20),
             r.nr_accesses, r.age, r.flags ? " paged_out" : "");
  }
  ExpectWellFormed(b);
  const CollectorCounters k = (*c)->counters();
  printf(
      "%zu batches in %.1f s, last one %zu regions; %llu records, %llu cut, %llu timed out, "
      "%llu lost\n",
      sink.batches.size(), (NowNs() - t0) / 1e9, n, (unsigned long long)k.bpf_recorded,
      (unsigned long long)k.assembler.cut, (unsigned long long)k.assembler.timed_out,
      (unsigned long long)k.bpf_lost);
  EXPECT_TRUE(separated) << "the hot 8 MiB never showed accesses with the cold part quiet";
  EXPECT_EQ(covered, l.anon_len) << "the regions do not cover the child's 64 MiB";
  EXPECT_TRUE(flagged) << "the paged-out MiB is not flagged";
  if (sink.batches.size() > 10) {
    const double span = (sink.batches.back().received_ns - sink.batches[1].received_ns) / 1e9;
    printf("mean batch interval %.1f ms\n", span * 1e3 / (sink.batches.size() - 2));
  }

  // A second process added live (commit): its regions show up under its own id.
  testing::Child child2;
  testing::ChildOptions co2;
  co2.anon_len = 4ull << 20;
  ASSERT_TRUE(child2.Start(co2));
  Result<uint32_t> id2 = targets.Add(child2.pid());
  ASSERT_TRUE(id2.ok());
  const int kpid = (*m)->kdamond_pid();
  MonitoredTarget both[2] = {mt, {*id2, child2.pid()}};
  set = (*m)->SetTargets(both);
  ASSERT_TRUE(set.ok()) << set.error().message;
  EXPECT_EQ((*m)->kdamond_pid(), kpid) << "a commit restarted the kdamond";
  (*c)->SetKdamondPid((*m)->kdamond_pid());
  (*c)->SetTargets((*m)->slots());
  auto has = [](const Batch& bb, uint32_t t, uint64_t lo, uint64_t hi) {
    for (const Region& r : bb.regions) {
      if (r.target == t && r.start < hi && r.end > lo)
        return true;
    }
    return false;
  };
  const auto& l2 = child2.layout();
  size_t from = sink.batches.size();
  bool seen2 = false;
  const uint64_t until2 = NowNs() + 5000000000ull;
  while (!seen2 && NowNs() < until2) {
    ASSERT_TRUE((*c)->Poll(100).ok());
    for (size_t i = from; i < sink.batches.size(); i++)
      seen2 |= has(sink.batches[i], *id2, l2.anon, l2.anon + l2.anon_len) &&
               has(sink.batches[i], *id, l.anon, l.anon + l.anon_len);
    from = sink.batches.size();
  }
  EXPECT_TRUE(seen2) << "no batch with both targets within 5 s of the commit";

  // The first one removed: the second moves to index 0; after the settling time no region
  // is reported under the first's id, and the second's regions are its own.
  set = (*m)->SetTargets({&both[1], 1});
  ASSERT_TRUE(set.ok()) << set.error().message;
  (*c)->SetTargets((*m)->slots());
  const uint64_t settled = NowNs() + (dc.update_us + dc.aggr_us) * 1000ull;
  while (NowNs() < settled + 1000000000ull)
    ASSERT_TRUE((*c)->Poll(100).ok());
  const Batch& last = sink.batches.back();
  EXPECT_GT(last.received_ns, settled);
  EXPECT_FALSE(has(last, *id, 0, UINT64_MAX)) << "regions of a removed target";
  EXPECT_TRUE(has(last, *id2, l2.anon, l2.anon + l2.anon_len));
  printf("after the removal: %llu records dropped while index 0 settled\n",
         (unsigned long long)(*c)->counters().assembler.unknown_target);

  ASSERT_TRUE((*m)->Stop().ok());
  EXPECT_FALSE((*m)->running());
  EXPECT_EQ(*ReadSysfs(std::string(kAdmin) + "/kdamonds/nr_kdamonds"), *before);
  EXPECT_EQ(child.Quit(), 0);
  EXPECT_EQ(child2.Quit(), 0);
}

}  // namespace
}  // namespace wave::mem
