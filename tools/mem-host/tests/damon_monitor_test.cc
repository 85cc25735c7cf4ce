// DamonMonitor's sysfs sequence against a fake sysfs tree (plain files), and its refusals
// against the real one.
#include "damon_monitor.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

namespace wave::mem {
namespace {

namespace fs = std::filesystem;

void Put(const fs::path& p, const std::string& v) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << v << "\n";
}

std::string Get(const fs::path& p) {
  Result<std::string> s = ReadSysfs(p.string());
  return s.ok() ? *s : "<" + s.error().message + ">";
}

// A fake admin/ directory with nr_kdamonds = nr and the dirs the kernel would create for
// kdamond index `ours` (the kernel creates them on the nr_kdamonds write; files here).
struct FakeSysfs {
  fs::path root;
  explicit FakeSysfs(uint32_t nr, uint32_t ours) {
    char tmpl[] = "/tmp/wave-damon-fake-XXXXXX";
    root = mkdtemp(tmpl);
    Put(root / "kdamonds/nr_kdamonds", std::to_string(nr));
    for (uint32_t i = 0; i <= ours; i++) {
      const fs::path d = root / "kdamonds" / std::to_string(i);
      Put(d / "state", "off");
      Put(d / "pid", "-1");
      Put(d / "contexts/nr_contexts", "0");
      const fs::path c = d / "contexts/0";
      for (const char* f :
           {"operations", "monitoring_attrs/intervals/sample_us",
            "monitoring_attrs/intervals/aggr_us", "monitoring_attrs/intervals/update_us",
            "monitoring_attrs/nr_regions/min", "monitoring_attrs/nr_regions/max",
            "targets/nr_targets", "schemes/nr_schemes", "targets/0/pid_target",
            "targets/1/pid_target"})
        Put(c / f, "0");
    }
  }
  ~FakeSysfs() { fs::remove_all(root); }
};

TEST(DamonMonitorFake, ConfiguresTargetsAndRestores) {
  FakeSysfs f(1, 1);
  DamonConfig c;
  c.sysfs_root = f.root.string();
  c.sample_us = 5000;
  c.aggr_us = 100000;
  c.update_us = 1000000;
  Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(c);
  ASSERT_TRUE(m.ok()) << m.error().message;
  EXPECT_EQ((*m)->index(), 1);
  EXPECT_EQ((*m)->max_accesses(), 20);
  const fs::path d = f.root / "kdamonds/1";
  EXPECT_EQ(Get(f.root / "kdamonds/nr_kdamonds"), "2");
  EXPECT_EQ(Get(d / "contexts/nr_contexts"), "1");
  EXPECT_EQ(Get(d / "contexts/0/operations"), "vaddr");
  EXPECT_EQ(Get(d / "contexts/0/monitoring_attrs/intervals/aggr_us"), "100000");
  EXPECT_EQ(Get(d / "contexts/0/monitoring_attrs/nr_regions/max"), "1000");

  MonitoredTarget t[2] = {{5, 1234}, {9, 5678}};
  ASSERT_TRUE((*m)->SetTargets(t).ok());
  EXPECT_EQ(Get(d / "state"), "on");  // off before: turned on
  EXPECT_EQ(Get(d / "contexts/0/targets/nr_targets"), "2");
  EXPECT_EQ(Get(d / "contexts/0/targets/1/pid_target"), "5678");
  std::vector<TargetSlot> s = (*m)->slots();
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].target, 5u);
  EXPECT_EQ(s[1].target, 9u);
  const uint64_t started = s[1].valid_from_ns;  // started now: no stale regions before

  // Running ("on"): a live commit; index 0 keeps its process, index 1 gets another.
  MonitoredTarget t2[2] = {{5, 1234}, {11, 999}};
  ASSERT_TRUE((*m)->SetTargets(t2).ok());
  EXPECT_EQ(Get(d / "state"), "commit");
  s = (*m)->slots();
  EXPECT_EQ(s[0].valid_from_ns, started);
  EXPECT_GE(s[1].valid_from_ns, started + 1100000000ull);  // settles update_us + aggr_us

  Put(d / "state", "on");
  ASSERT_TRUE((*m)->Stop().ok());
  EXPECT_EQ(Get(d / "state"), "off");
  EXPECT_EQ(Get(f.root / "kdamonds/nr_kdamonds"), "1");
  EXPECT_EQ((*m)->index(), -1);
  EXPECT_TRUE((*m)->Stop().ok());  // idempotent
}

TEST(DamonMonitorFake, RestoresAfterAnError) {
  FakeSysfs f(0, 0);
  fs::remove(f.root / "kdamonds/0/contexts/0/operations");
  fs::remove_all(f.root / "kdamonds/0/contexts/0/monitoring_attrs");
  DamonConfig c;
  c.sysfs_root = f.root.string();
  // The write of "operations" creates a plain file here; make the context's attrs fail.
  Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(c);
  EXPECT_FALSE(m.ok());
  EXPECT_EQ(Get(f.root / "kdamonds/nr_kdamonds"), "0") << "nr_kdamonds not restored";
}

TEST(DamonMonitorFake, RefusesWhenAnotherKdamondRunsOrIsConfigured) {
  {
    FakeSysfs f(1, 0);
    Put(f.root / "kdamonds/0/state", "on");
    DamonConfig c;
    c.sysfs_root = f.root.string();
    Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(c);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, EBUSY);
    EXPECT_EQ(Get(f.root / "kdamonds/nr_kdamonds"), "1");
  }
  {
    FakeSysfs f(1, 0);
    Put(f.root / "kdamonds/0/contexts/nr_contexts", "1");
    DamonConfig c;
    c.sysfs_root = f.root.string();
    Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(c);
    ASSERT_FALSE(m.ok());
    EXPECT_EQ(m.error().code, EBUSY);
  }
  DamonConfig c;
  c.sysfs_root = "/nonexistent/damon";
  Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(c);
  ASSERT_FALSE(m.ok());
  EXPECT_EQ(m.error().code, ENOENT);
  c = DamonConfig();
  c.aggr_us = 10;
  EXPECT_EQ(DamonMonitor::Create(c).error().code, EINVAL);
}

// The real DAMON sysfs: Create either works (and Stop restores nr_kdamonds) or says why not.
TEST(DamonMonitorReal, CreateAndStopRestore) {
  const std::string root = "/sys/kernel/mm/damon/admin";
  Result<std::string> before = ReadSysfs(root + "/kdamonds/nr_kdamonds");
  if (!before.ok())
    GTEST_SKIP() << "no DAMON sysfs: " << before.error().message;
  Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(DamonConfig());
  if (!m.ok()) {
    EXPECT_EQ(Get(root + "/kdamonds/nr_kdamonds"), *before) << "changed after a refusal";
    GTEST_SKIP() << "DAMON monitor not possible here: " << m.error().message;
  }
  EXPECT_EQ((*m)->index(), atoi(before->c_str()));
  EXPECT_TRUE((*m)->Stop().ok());
  EXPECT_EQ(Get(root + "/kdamonds/nr_kdamonds"), *before);
}

}  // namespace
}  // namespace wave::mem
