// wave-mem-workload: a memory-bound service with a skewed working set, for the memory offload.
//
// It holds --mib MiB of anonymous memory as 4 KiB records, serves requests that each read
// --reads records drawn from a Zipf distribution (a key-value lookup pattern) and, with
// probability --write-ratio, rewrite one of them, for --seconds seconds. Every record carries
// its index and version and a body derived from both, so at the end the whole memory is
// verified: a record paged out and back in wrong, or lost, is reported (exit status 3).
//
// Hot records sit together (rank r is record r + offset), as in a store whose hot keys were
// allocated together; --scatter spreads them over the whole range.
//
// Output: one JSON object (stdout, or --json PATH): requests/s, p50/p99 request latency,
// resident memory average and peak (sampled every 100 ms), major faults, verified records.
// SIGTERM ends the load early and still verifies and reports.
#include <fcntl.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cinttypes>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "zipf.h"

namespace {

using wave::memwl::Rng;
using wave::memwl::Zipf;

constexpr size_t kRecord = 4096;

// SIGTERM/SIGINT end the load early; the verification and the report still run.
volatile sig_atomic_t g_stop = 0;
void OnStop(int) {
  g_stop = 1;
}
constexpr size_t kWords = kRecord / sizeof(uint64_t);

struct Options {
  uint64_t mib = 256;
  double zipf_s = 0.99;
  double seconds = 10;
  uint32_t reads = 16;
  double write_ratio = 0.1;
  uint64_t seed = 1;
  bool scatter = false;
  std::string json_path;
  std::string ready_path;         // written (with the pid) once the memory is filled
  double warmup = 0;              // seconds of load before measuring
  double cold_fraction = 0;       // records outside the Zipf's key range
  double cold_read_ratio = 0.01;  // requests that also read one cold record (uniformly)
};

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

uint64_t Mix(uint64_t a, uint64_t b) {
  uint64_t z = a * 0x9e3779b97f4a7c15ull ^ (b + 0x632be59bd9b4e019ull);
  z = (z ^ (z >> 29)) * 0xbf58476d1ce4e5b9ull;
  return z ^ (z >> 32);
}

void Fill(uint64_t* rec, uint64_t index, uint64_t version) {
  rec[0] = index;
  rec[1] = version;
  for (size_t j = 2; j < kWords; j++)
    rec[j] = Mix(index ^ (version << 40), j);
}

bool Intact(const uint64_t* rec, uint64_t index, uint64_t version) {
  if (rec[0] != index || rec[1] != version)
    return false;
  for (size_t j = 2; j < kWords; j++)
    if (rec[j] != Mix(index ^ (version << 40), j))
      return false;
  return true;
}

uint64_t RssBytes() {
  FILE* f = std::fopen("/proc/self/statm", "r");
  if (!f)
    return 0;
  unsigned long long size = 0, resident = 0;
  const int n = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return n == 2 ? resident * static_cast<uint64_t>(sysconf(_SC_PAGESIZE)) : 0;
}

// Log-linear latency buckets: 16 per power of two (<= 6.25 % wide).
struct Histogram {
  std::vector<uint64_t> counts = std::vector<uint64_t>(64 * 16);
  uint64_t total = 0;
  static size_t Bucket(uint64_t ns) {
    if (ns < 16)
      return ns;
    const int p = 63 - __builtin_clzll(ns);
    return static_cast<size_t>(p - 3) * 16 + ((ns >> (p - 4)) & 15);
  }
  static uint64_t Lower(size_t b) {
    if (b < 16)
      return b;
    const size_t p = b / 16 + 3;
    return (uint64_t{1} << p) + (uint64_t{b % 16} << (p - 4));
  }
  void Add(uint64_t ns) {
    counts[std::min(Bucket(ns), counts.size() - 1)]++;
    total++;
  }
  uint64_t Percentile(double q) const {
    const uint64_t want = static_cast<uint64_t>(q * static_cast<double>(total));
    uint64_t seen = 0;
    for (size_t b = 0; b < counts.size(); b++) {
      seen += counts[b];
      if (seen > want)
        return Lower(b);
    }
    return 0;
  }
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto value = [&](const char* name) -> const char* {
      if (i + 1 >= argc) {
        std::fprintf(stderr, "wave-mem-workload: %s needs a value\n", name);
        std::exit(2);
      }
      return argv[++i];
    };
    char* end = nullptr;
    if (a == "--mib") {
      o->mib = std::strtoull(value("--mib"), &end, 10);
    } else if (a == "--zipf") {
      o->zipf_s = std::strtod(value("--zipf"), &end);
    } else if (a == "--seconds") {
      o->seconds = std::strtod(value("--seconds"), &end);
    } else if (a == "--warmup") {
      o->warmup = std::strtod(value("--warmup"), &end);
    } else if (a == "--reads") {
      o->reads = static_cast<uint32_t>(std::strtoul(value("--reads"), &end, 10));
    } else if (a == "--write-ratio") {
      o->write_ratio = std::strtod(value("--write-ratio"), &end);
    } else if (a == "--cold-fraction") {
      o->cold_fraction = std::strtod(value("--cold-fraction"), &end);
    } else if (a == "--cold-reads") {
      o->cold_read_ratio = std::strtod(value("--cold-reads"), &end);
    } else if (a == "--seed") {
      o->seed = std::strtoull(value("--seed"), &end, 10);
    } else if (a == "--scatter") {
      o->scatter = true;
      continue;
    } else if (a == "--json") {
      o->json_path = value("--json");
      continue;
    } else if (a == "--ready-file") {
      o->ready_path = value("--ready-file");
      continue;
    } else {
      std::fprintf(stderr,
                   "usage: wave-mem-workload [--mib N] [--zipf S] [--seconds T] [--warmup T] "
                   "[--reads N] [--write-ratio F] [--cold-fraction F] [--cold-reads F] [--seed N] "
                   "[--scatter] [--json PATH] "
                   "[--ready-file PATH]\n");
      return false;
    }
    if (end == nullptr || *end != '\0') {
      std::fprintf(stderr, "wave-mem-workload: bad value for %s\n", a.c_str());
      return false;
    }
  }
  if (o->mib == 0 || o->mib > (1u << 20) || o->zipf_s <= 0 || o->seconds <= 0 || o->reads == 0 ||
      o->write_ratio < 0 || o->write_ratio > 1 || o->cold_fraction < 0 || o->cold_fraction >= 1 ||
      o->cold_read_ratio < 0 || o->cold_read_ratio > 1) {
    std::fprintf(stderr, "wave-mem-workload: out-of-range option\n");
    return false;
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o))
    return 2;
  const uint64_t records = o.mib * (1 << 20) / kRecord;
  void* mem =
      mmap(nullptr, records * kRecord, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (mem == MAP_FAILED) {
    std::fprintf(stderr, "wave-mem-workload: mmap %" PRIu64 " MiB: %s\n", o.mib,
                 std::strerror(errno));
    return 1;
  }
  // No transparent huge pages: the offload works on 4 KiB pages (a huge page is paged out
  // whole or split first).
  madvise(mem, records * kRecord, MADV_NOHUGEPAGE);
  auto* base = static_cast<uint64_t*>(mem);
  std::vector<uint64_t> versions(records, 0);
  for (uint64_t i = 0; i < records; i++)
    Fill(base + i * kWords, i, 0);

  // The Zipf's keys are the first (1 - cold_fraction) of the records; the rest is cold data a
  // request reads now and then (cold_read_ratio), uniformly: what a cache's tail looks like.
  const uint64_t keyed = std::max<uint64_t>(
      1, static_cast<uint64_t>(static_cast<double>(records) * (1 - o.cold_fraction)));
  const Zipf zipf(keyed, o.zipf_s);
  // Rank -> record: clustered at a fixed offset, or spread by an odd multiplier mod keyed.
  const uint64_t offset = keyed / 8;
  const uint64_t stride = keyed > 1 ? (keyed / 2) | 1 : 1;
  auto record_of = [&](uint64_t rank) {
    return o.scatter ? (rank * stride) % keyed : (rank + offset) % keyed;
  };

  if (!o.ready_path.empty()) {
    const std::string tmp = o.ready_path + ".tmp";
    if (FILE* f = std::fopen(tmp.c_str(), "w")) {
      std::fprintf(f, "%d\n", getpid());
      std::fclose(f);
      std::rename(tmp.c_str(), o.ready_path.c_str());
    }
  }

  std::atomic<bool> sampling{true};
  std::atomic<uint64_t> rss_sum{0}, rss_samples{0}, rss_peak{0};
  std::atomic<bool> measuring{o.warmup <= 0};
  std::thread sampler([&] {
    while (sampling.load()) {
      if (measuring.load()) {
        const uint64_t r = RssBytes();
        rss_sum += r;
        rss_samples++;
        if (r > rss_peak.load())
          rss_peak = r;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  });

  struct sigaction sa {};
  sa.sa_handler = OnStop;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  Rng rng(o.seed);
  Histogram hist;
  uint64_t requests = 0, checksum = 0, bad_reads = 0;
  rusage ru0{};
  const uint64_t warm_end = NowNs() + static_cast<uint64_t>(o.warmup * 1e9);
  while (o.warmup > 0 && NowNs() < warm_end) {
    const uint64_t r = record_of(zipf.Rank(rng.Uniform()));
    checksum += base[r * kWords + 2];
  }
  measuring = true;
  getrusage(RUSAGE_SELF, &ru0);
  const uint64_t start = NowNs();
  const uint64_t end = start + static_cast<uint64_t>(o.seconds * 1e9);
  uint64_t now = start;
  while (now < end && !g_stop) {
    const uint64_t t0 = now;
    for (uint32_t k = 0; k < o.reads; k++) {
      const uint64_t r = record_of(zipf.Rank(rng.Uniform()));
      const uint64_t* rec = base + r * kWords;
      // A lookup reads the header and a few words of the body, as a get reads its item.
      if (rec[0] != r)
        bad_reads++;
      checksum += rec[2] + rec[kWords / 2] + rec[kWords - 1];
    }
    if (keyed < records && rng.Uniform() < o.cold_read_ratio) {
      const uint64_t r = keyed + rng.Next() % (records - keyed);
      const uint64_t* rec = base + r * kWords;
      if (rec[0] != r)
        bad_reads++;
      checksum += rec[2] + rec[kWords - 1];
    }
    if (rng.Uniform() < o.write_ratio) {
      const uint64_t r = record_of(zipf.Rank(rng.Uniform()));
      Fill(base + r * kWords, r, ++versions[r]);
    }
    now = NowNs();
    hist.Add(now - t0);
    requests++;
  }
  const double elapsed = static_cast<double>(now - start) / 1e9;
  rusage ru1{};
  getrusage(RUSAGE_SELF, &ru1);
  sampling = false;
  sampler.join();

  uint64_t intact = 0, corrupt = 0;
  for (uint64_t i = 0; i < records; i++) {
    if (Intact(base + i * kWords, i, versions[i]))
      intact++;
    else
      corrupt++;
  }
  const uint64_t samples = std::max<uint64_t>(rss_samples.load(), 1);
  char buf[1024];
  std::snprintf(buf, sizeof(buf),
                "{\"mib\": %" PRIu64 ", \"zipf\": %.3f, \"seconds\": %.3f, \"requests\": %" PRIu64
                ", \"requests_per_s\": %.1f, \"p50_ns\": %" PRIu64 ", \"p99_ns\": %" PRIu64
                ", \"rss_avg_bytes\": %" PRIu64 ", \"rss_peak_bytes\": %" PRIu64
                ", \"major_faults\": %ld, \"records\": %" PRIu64 ", \"intact_records\": %" PRIu64
                ", \"corrupt_records\": %" PRIu64 ", \"bad_reads\": %" PRIu64
                ", \"checksum\": %" PRIu64 "}\n",
                o.mib, o.zipf_s, elapsed, requests, static_cast<double>(requests) / elapsed,
                hist.Percentile(0.5), hist.Percentile(0.99), rss_sum.load() / samples,
                rss_peak.load(), ru1.ru_majflt - ru0.ru_majflt, records, intact, corrupt, bad_reads,
                checksum);
  if (o.json_path.empty()) {
    std::fputs(buf, stdout);
  } else if (FILE* f = std::fopen(o.json_path.c_str(), "w")) {
    std::fputs(buf, f);
    std::fclose(f);
  } else {
    std::fprintf(stderr, "wave-mem-workload: %s: %s\n", o.json_path.c_str(), std::strerror(errno));
    return 1;
  }
  if (corrupt != 0 || bad_reads != 0) {
    std::fprintf(stderr, "wave-mem-workload: %" PRIu64 " corrupt records, %" PRIu64 " bad reads\n",
                 corrupt, bad_reads);
    return 3;
  }
  return 0;
}
