// `wavectl stats --bar FILE` on a BAR file laid out as wave-nicd writes it.
#include "stats_command.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "runtime/stats_export.h"
#include "wave_abi.h"

namespace wave::wavectl {
namespace {

class BarFile {
 public:
  explicit BarFile(bool good_magic, uint16_t major = WAVE_ABI_MAJOR) {
    char tmpl[] = "/tmp/wavectl-test-XXXXXX";
    const int fd = mkstemp(tmpl);
    path_ = tmpl;
    std::vector<unsigned char> bar(3 * WAVE_PAGE_SIZE);
    wave_control_page cp = {};
    cp.magic = good_magic ? WAVE_ABI_MAGIC : 0;
    cp.abi_major = major;
    std::memcpy(bar.data(), &cp, sizeof cp);
    rt::RuntimeStats s;
    s.requests = 77;
    rt::ActorStats a;
    a.id = 3;
    a.name = "kv";
    a.sched.location = rt::ActorLocation::kHost;
    a.sched.processed = 5;
    s.actors.push_back(a);
    rt::export_stats(s, 2, bar.data() + WAVE_NIC_STATS_OFF, WAVE_NIC_STATS_SIZE);
    EXPECT_EQ(write(fd, bar.data(), bar.size()), static_cast<ssize_t>(bar.size()));
    close(fd);
  }
  ~BarFile() { unlink(path_.c_str()); }
  const char* path() const { return path_.c_str(); }

 private:
  std::string path_;
};

int RunWavectl(std::vector<const char*> args, std::string* out, std::string* err) {
  args.insert(args.begin(), "stats");
  return RunStats(static_cast<int>(args.size()), args.data(), out, err);
}

TEST(WavectlStats, TableAndJsonFromBarFile) {
  BarFile bar(true);
  std::string out, err;
  ASSERT_EQ(RunWavectl({"--bar", bar.path()}, &out, &err), 0) << err;
  EXPECT_NE(out.find("kv"), std::string::npos);
  EXPECT_NE(out.find("host"), std::string::npos);
  ASSERT_EQ(RunWavectl({"--bar", bar.path(), "--json"}, &out, &err), 0) << err;
  EXPECT_NE(out.find("\"requests\":77"), std::string::npos) << out;
  EXPECT_NE(out.find("\"location\":\"host\""), std::string::npos) << out;
}

TEST(WavectlStats, RefusesForeignControlPages) {
  std::string out, err;
  BarFile no_magic(false);
  EXPECT_EQ(RunWavectl({"--bar", no_magic.path()}, &out, &err), 1);
  EXPECT_NE(err.find("bad magic"), std::string::npos);
  BarFile other_abi(true, 9);
  EXPECT_EQ(RunWavectl({"--bar", other_abi.path()}, &out, &err), 1);
  EXPECT_NE(err.find("ABI 9"), std::string::npos) << err;
  EXPECT_EQ(RunWavectl({"--bar", "/nonexistent"}, &out, &err), 1);
  EXPECT_EQ(RunWavectl({"--frobnicate"}, &out, &err), 2);
}

}  // namespace
}  // namespace wave::wavectl
