// The Enactor against real child processes: advice that succeeds (and loses nothing), and
// every refusal under its own reason.
#include "enactor.h"

#include <endian.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <climits>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "child_process.h"
#include "wave/mem_batch.h"

namespace wave::mem {
namespace {

using testing::Child;
using testing::ChildOptions;

constexpr uint64_t kMiB = 1ull << 20;
constexpr uint64_t kPage = 4096;

wave_mem_decision D(uint32_t target, uint64_t start, uint64_t len, uint8_t action,
                    uint64_t seq = 1) {
  Region r;
  r.start = start;
  r.end = start + len;
  r.target = target;
  return EncodeDecision(seq, r, action, WAVE_MEM_SRC_FALLBACK);
}

// A directory on a local disk file system for the file mapping: reclaim drops clean page
// cache pages there, while tmpfs pages (shmem) need swap, which this machine does not have,
// and a shared file system (9p, virtiofs in the VM) may keep them. Empty if none is found.
// Whether a file can be created, sized and mapped shared in dir.
bool CanMapFile(const std::string& dir) {
  std::string path = dir + "/wave-mem-host-probe-XXXXXX";
  const int fd = mkstemp(path.data());
  if (fd < 0)
    return false;
  unlink(path.c_str());
  bool ok = ftruncate(fd, 4096) == 0;
  if (ok) {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    ok = p != MAP_FAILED;
    if (ok) {
      static_cast<char*>(p)[0] = 1;
      ok = msync(p, 4096, MS_SYNC) == 0;
      munmap(p, 4096);
    }
  }
  close(fd);
  return ok;
}

std::string FileDir(bool* local) {
  // statfs is no help: a 9p or virtiofs mount reports the host's file system type.
  std::ifstream mounts("/proc/mounts");
  std::vector<std::pair<std::string, std::string>> m;  // mount point, type
  std::string dev, dir, type, rest;
  while (mounts >> dev >> dir >> type && std::getline(mounts, rest))
    m.push_back({dir, type});
  for (const char* d : {".", "/var/tmp", "/tmp", "/root"}) {
    char real[PATH_MAX];
    if (!realpath(d, real) || access(d, W_OK) != 0)
      continue;
    const std::string r = real;
    std::string best_type;
    size_t best = 0;
    for (const auto& [point, t] : m) {
      const bool under = r == point || point == "/" ||
                         (r.compare(0, point.size(), point) == 0 && r[point.size()] == '/');
      if (under && point.size() >= best) {
        best = point.size();
        best_type = t;
      }
    }
    if (best_type == "ext4" || best_type == "ext3" || best_type == "ext2" || best_type == "xfs" ||
        best_type == "btrfs") {
      *local = true;
      return d;
    }
  }
  *local = false;
  for (const char* d : {".", "/tmp", "/var/tmp"}) {
    if (CanMapFile(d))
      return d;
  }
  return ".";
}

bool CanAdvise() {
  return geteuid() == 0;
}

TEST(Enactor, AdviceSucceedsAndLosesNothing) {
  if (!CanAdvise())
    GTEST_SKIP() << "process_madvise on another process needs root (CAP_SYS_NICE, ptrace)";
  Child child;
  ChildOptions o;
  o.anon_len = 64 * kMiB;
  o.file_len = 16 * kMiB;
  bool local_fs = false;
  o.file_dir = FileDir(&local_fs);
  printf("file mapping in %s (%s)\n", o.file_dir.c_str(),
         local_fs ? "local disk file system" : "no local disk file system found");
  ASSERT_TRUE(child.Start(o)) << "child exit status " << child.Quit();
  const auto& l = child.layout();
  TargetTable targets;
  PagedOutSet paged;
  Result<uint32_t> id = targets.Add(child.pid());
  ASSERT_TRUE(id.ok()) << id.error().message;
  Enactor e(&targets, &paged);

  uint64_t anon0, file0;
  ASSERT_TRUE(child.Residency(&anon0, &file0));
  EXPECT_EQ(anon0, l.anon_len / kPage);

  EXPECT_EQ(e.Enact(D(*id, l.anon, 16 * kMiB, WAVE_MEM_COLD)), Outcome::kOk);
  EXPECT_EQ(e.Enact(D(*id, l.anon + 16 * kMiB, 16 * kMiB, WAVE_MEM_PAGEOUT)), Outcome::kOk);
  EXPECT_EQ(e.Enact(D(*id, l.anon + 32 * kMiB, 32 * kMiB, WAVE_MEM_WILLNEED)), Outcome::kOk);
  uint64_t anon1, file1;
  ASSERT_TRUE(child.Residency(&anon1, &file1));
  // Without swap, anonymous pages cannot be paged out: MADV_PAGEOUT succeeds and leaves them.
  printf("anonymous: %llu of %llu pages resident after COLD 16 MiB + PAGEOUT 16 MiB\n",
         (unsigned long long)anon1, (unsigned long long)(l.anon_len / kPage));

  EXPECT_TRUE(paged.Overlaps(*id, l.anon + 16 * kMiB, l.anon + 17 * kMiB));
  EXPECT_FALSE(paged.Overlaps(*id, l.anon, l.anon + 16 * kMiB));

  // File-backed, clean: MADV_PAGEOUT really drops the pages.
  EXPECT_EQ(e.Enact(D(*id, l.file, l.file_len, WAVE_MEM_PAGEOUT, 2)), Outcome::kOk);
  ASSERT_TRUE(child.Residency(&anon1, &file1));
  printf("file: %llu of %llu pages resident before PAGEOUT, %llu after\n",
         (unsigned long long)file0, (unsigned long long)(l.file_len / kPage),
         (unsigned long long)file1);
  EXPECT_EQ(file0, l.file_len / kPage);
  if (local_fs)
    EXPECT_LT(file1, file0 / 2) << "MADV_PAGEOUT left most of the clean file pages resident";
  else
    printf("no local disk file system found: the file's page cache may stay resident\n");
  EXPECT_TRUE(paged.Overlaps(*id, l.file, l.file + kPage));

  // WILLNEED reads them back (readahead, asynchronous) and clears the paged-out record.
  EXPECT_EQ(e.Enact(D(*id, l.file, l.file_len, WAVE_MEM_WILLNEED, 3)), Outcome::kOk);
  EXPECT_FALSE(paged.Overlaps(*id, l.file, l.file + l.file_len));
  uint64_t file2 = 0;
  for (int i = 0; i < 100; i++) {
    ASSERT_TRUE(child.Residency(&anon1, &file2));
    if (file2 > file1)
      break;
    usleep(10000);
  }
  printf("file: %llu pages resident after WILLNEED\n", (unsigned long long)file2);

  EXPECT_TRUE(child.Verify()) << "the child's memory changed";
  const EnactorCounters c = e.counters();
  EXPECT_EQ(c.count(Outcome::kOk), 5u);
  EXPECT_EQ(c.bytes_cold, 16 * kMiB);
  EXPECT_EQ(c.bytes_pageout, 16 * kMiB + l.file_len);
  EXPECT_EQ(c.bytes_willneed, 32 * kMiB + l.file_len);
  for (size_t i = 1; i < c.outcomes.size(); i++)
    EXPECT_EQ(c.outcomes[i], 0u) << OutcomeName(static_cast<Outcome>(i));
  EXPECT_EQ(child.Quit(), 0);
}

TEST(Enactor, RefusalsAreCountedByReason) {
  if (!CanAdvise())
    GTEST_SKIP() << "process_madvise on another process needs root (CAP_SYS_NICE, ptrace)";
  Child child;
  ChildOptions o;
  o.anon_len = 4 * kMiB;
  ASSERT_TRUE(child.Start(o));
  const auto& l = child.layout();
  TargetTable targets;
  Result<uint32_t> id = targets.Add(child.pid());
  ASSERT_TRUE(id.ok()) << id.error().message;
  Enactor e(&targets, nullptr);

  // Malformed: unaligned, empty, wrapping, reserved bits, unknown source; unknown action.
  wave_mem_decision d = D(*id, l.anon + 1, kPage, WAVE_MEM_COLD);
  EXPECT_EQ(e.Enact(d), Outcome::kMalformed);
  d = D(*id, l.anon, 0, WAVE_MEM_COLD);
  EXPECT_EQ(e.Enact(d), Outcome::kMalformed);
  d = D(*id, ~0ull & ~(kPage - 1), 2 * kPage, WAVE_MEM_COLD);
  EXPECT_EQ(e.Enact(d), Outcome::kMalformed);
  d = D(*id, l.anon, kPage, WAVE_MEM_COLD);
  d.reserved = 1;
  EXPECT_EQ(e.Enact(d), Outcome::kMalformed);
  d = D(*id, l.anon, kPage, WAVE_MEM_COLD);
  d.source = 9;
  EXPECT_EQ(e.Enact(d), Outcome::kMalformed);
  EXPECT_EQ(e.Enact(D(*id, l.anon, kPage, WAVE_MEM_KEEP)), Outcome::kBadAction);
  EXPECT_EQ(e.Enact(D(*id, l.anon, kPage, 200)), Outcome::kBadAction);

  EXPECT_EQ(e.Enact(D(*id + 1000, l.anon, kPage, WAVE_MEM_COLD)), Outcome::kUnknownTarget);
  EXPECT_EQ(e.Enact(D(*id, 0x1000, kPage, WAVE_MEM_COLD)), Outcome::kOutside);
  // The hole: pages 0 and 2 mapped, 1 not.
  EXPECT_EQ(e.Enact(D(*id, l.hole, kPage, WAVE_MEM_COLD)), Outcome::kOk);
  EXPECT_EQ(e.Enact(D(*id, l.hole, 3 * kPage, WAVE_MEM_COLD)), Outcome::kHole);
  EXPECT_EQ(e.Enact(D(*id, l.hole + kPage, kPage, WAVE_MEM_COLD)), Outcome::kOutside);
  // Past the end of the anonymous mapping (the next page may be mapped: then it is inside).
  // Special mappings.
  Result<std::vector<Mapping>> maps = ReadMaps(child.pid());
  ASSERT_TRUE(maps.ok());
  int specials = 0;
  for (const Mapping& m : *maps) {
    if (!m.special)
      continue;
    specials++;
    EXPECT_EQ(e.Enact(D(*id, m.start, kPage, WAVE_MEM_PAGEOUT)), Outcome::kSpecial) << m.name;
  }
  EXPECT_GT(specials, 0) << "no [vdso] in the child's maps";

  // A pid reused by another process: the same pid with another start time.
  Result<uint64_t> st = ProcessStartTime(child.pid());
  ASSERT_TRUE(st.ok());
  TargetTable other;
  Result<uint32_t> fake = targets.AddWithStartTime(child.pid(), *st + 12345);
  ASSERT_TRUE(fake.ok()) << fake.error().message;
  EXPECT_EQ(e.Enact(D(*fake, l.anon, kPage, WAVE_MEM_COLD)), Outcome::kPidReused);

  // The process exited (reaped, and before that as a zombie).
  Child gone;
  ASSERT_TRUE(gone.Start(o));
  Result<uint32_t> gid = targets.Add(gone.pid());
  ASSERT_TRUE(gid.ok());
  EXPECT_EQ(e.Enact(D(*gid, gone.layout().anon, kPage, WAVE_MEM_COLD)), Outcome::kOk);
  kill(gone.pid(), SIGKILL);
  siginfo_t si;
  waitid(P_PID, static_cast<id_t>(gone.pid()), &si, WEXITED | WNOWAIT);  // a zombie now
  EXPECT_EQ(e.Enact(D(*gid, gone.layout().anon, kPage, WAVE_MEM_COLD, 2)), Outcome::kExited);
  gone.Kill();  // reaped
  EXPECT_EQ(e.Enact(D(*gid, gone.layout().anon, kPage, WAVE_MEM_COLD, 3)), Outcome::kExited);

  const EnactorCounters c = e.counters();
  EXPECT_EQ(c.count(Outcome::kMalformed), 5u);
  EXPECT_EQ(c.count(Outcome::kBadAction), 2u);
  EXPECT_EQ(c.count(Outcome::kUnknownTarget), 1u);
  EXPECT_EQ(c.count(Outcome::kOutside), 2u);
  EXPECT_EQ(c.count(Outcome::kHole), 1u);
  EXPECT_EQ(c.count(Outcome::kSpecial), static_cast<uint64_t>(specials));
  EXPECT_EQ(c.count(Outcome::kPidReused), 1u);
  EXPECT_EQ(c.count(Outcome::kExited), 2u);
  EXPECT_EQ(c.count(Outcome::kOk), 2u);
  EXPECT_EQ(c.count(Outcome::kSyscallError), 0u);
  EXPECT_TRUE(child.Verify());
  EXPECT_EQ(child.Quit(), 0);
}

// Whatever the NIC sends: random decisions about a live child never crash the Enactor, and
// the child's memory is intact afterwards.
// The kernel batch path's decisions are about unclipped DAMON regions: with clipping on, the
// mapped parts of a range are advised and the rest counted; a range in no mapping is refused.
TEST(Enactor, ClipsToMappings) {
  if (!CanAdvise())
    GTEST_SKIP() << "process_madvise on another process needs root (CAP_SYS_NICE, ptrace)";
  Child child;
  ChildOptions o;
  o.anon_len = 4 * kMiB;
  ASSERT_TRUE(child.Start(o));
  const auto& l = child.layout();
  TargetTable targets;
  Result<uint32_t> id = targets.Add(child.pid());
  ASSERT_TRUE(id.ok()) << id.error().message;
  Enactor e(&targets, nullptr);
  e.SetClipToMappings(true);

  // Pages 0 and 2 of the hole mapped, 1 not: two pieces in one call, one page left out.
  EXPECT_EQ(e.Enact(D(*id, l.hole, 3 * kPage, WAVE_MEM_COLD)), Outcome::kOk);
  EnactorCounters c = e.counters();
  EXPECT_EQ(c.clipped, 1u);
  EXPECT_EQ(c.clipped_bytes, kPage);
  EXPECT_EQ(c.bytes_cold, 2 * kPage);
  // Nothing mapped there at all.
  EXPECT_EQ(e.Enact(D(*id, l.hole + kPage, kPage, WAVE_MEM_COLD)), Outcome::kOutside);
  EXPECT_EQ(e.Enact(D(*id, 0x1000, kPage, WAVE_MEM_COLD)), Outcome::kOutside);
  // A whole mapping inside: no clipping.
  EXPECT_EQ(e.Enact(D(*id, l.anon, o.anon_len, WAVE_MEM_COLD)), Outcome::kOk);
  c = e.counters();
  EXPECT_EQ(c.clipped, 1u);
  EXPECT_EQ(c.bytes_cold, 2 * kPage + o.anon_len);
  // Only a special mapping: nothing to advise.
  Result<std::vector<Mapping>> maps = ReadMaps(child.pid());
  ASSERT_TRUE(maps.ok());
  for (const Mapping& m : *maps) {
    if (m.special && m.name != "[vsyscall]") {
      EXPECT_EQ(e.Enact(D(*id, m.start, m.end - m.start, WAVE_MEM_COLD)), Outcome::kOutside)
          << m.name;
    }
  }
  // Without clipping the same range crossing the hole is refused.
  e.SetClipToMappings(false);
  EXPECT_EQ(e.Enact(D(*id, l.hole, 3 * kPage, WAVE_MEM_COLD)), Outcome::kHole);
  EXPECT_TRUE(child.Verify());
}

TEST(Enactor, RandomDecisionsNeverHurt) {
  if (!CanAdvise())
    GTEST_SKIP() << "process_madvise on another process needs root (CAP_SYS_NICE, ptrace)";
  Child child;
  ChildOptions o;
  o.anon_len = 8 * kMiB;
  ASSERT_TRUE(child.Start(o));
  const auto& l = child.layout();
  TargetTable targets;
  PagedOutSet paged(64);
  Result<uint32_t> id = targets.Add(child.pid());
  ASSERT_TRUE(id.ok());
  Enactor e(&targets, &paged);
  std::mt19937_64 rng(42);
  for (int i = 0; i < 20000; i++) {
    wave_mem_decision d{};
    const uint64_t kind = rng() % 4;
    if (kind == 0) {
      // Raw random bytes.
      uint64_t w[4] = {rng(), rng(), rng(), rng()};
      static_assert(sizeof(w) == sizeof(d));
      memcpy(&d, w, sizeof(d));
    } else {
      // Plausible ones around the child's memory.
      const uint64_t start = (l.anon + (rng() % (16 * kMiB)) - 4 * kMiB) & ~(kPage - 1);
      const uint64_t len = ((rng() % (2 * kMiB)) & ~(kPage - 1)) + (kind == 3 ? 0 : kPage);
      d = D(kind == 1 ? *id : static_cast<uint32_t>(rng() % 3), start, len,
            static_cast<uint8_t>(rng() % 5), rng() % 4);
    }
    e.Enact(d);
  }
  const EnactorCounters c = e.counters();
  uint64_t total = 0;
  for (uint64_t n : c.outcomes)
    total += n;
  EXPECT_EQ(total, 20000u);
  EXPECT_GT(c.count(Outcome::kOk), 0u);
  EXPECT_LE(paged.size(), 64u);
  printf("random decisions:");
  for (size_t i = 0; i < c.outcomes.size(); i++)
    printf(" %s=%llu", OutcomeName(static_cast<Outcome>(i)), (unsigned long long)c.outcomes[i]);
  printf(" maps_reads=%llu\n", (unsigned long long)c.maps_reads);
  EXPECT_TRUE(child.Verify());
  EXPECT_EQ(child.Quit(), 0);
}

}  // namespace
}  // namespace wave::mem
