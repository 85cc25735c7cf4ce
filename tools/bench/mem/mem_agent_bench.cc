// mem_agent_bench: how long the memory agent (nic_fw/policies/mem) takes per access batch of
// WAVE_MEM_MAX_REGIONS (4096) regions, for the age policy and the learned one (sol), on this
// machine's cores; and how many instructions a batch costs, counted by callgrind (the program
// re-runs itself under valgrind, counting only the measured rounds).
//
// The workload: 4 targets of 1024 regions each, 64 KiB to 8 MiB (about 8.5 GiB, ~6k granules
// of 2 MiB), a fifth of them hot, a few flaky; DAMON-like boundaries that shift between
// batches (16 precomputed layouts, cycled). Decisions are not enacted (no host), so the cold
// regions ask for a page-out in every batch: the emission cost is in the figure.
//
// The machine is shared and noisy: the time per batch is the median of the repetitions (the
// best beside it); the instruction count does not depend on the noise.
//
//   mem_agent_bench [--json PATH] [--rounds N] [--reps N] [--no-callgrind]
//   mem_agent_bench --child POLICY [--rounds N]   (run under callgrind)
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "policies/mem/mem_agent.h"

namespace {

using wave::mem::AgentConfig;
using wave::mem::BatchInfo;
using wave::mem::Decision;
using wave::mem::MemAgent;
using wave::mem::MonotonicClock;
using wave::mem::Region;

constexpr size_t kRegions = WAVE_MEM_MAX_REGIONS;
constexpr size_t kTargets = 4;
constexpr size_t kLayouts = 16;
constexpr uint64_t kIntervalNs = 100'000'000;
constexpr uint16_t kMaxAccesses = 20;

struct Options {
  std::string json;
  std::string child;
  uint64_t rounds = 200;  // batches per repetition
  uint64_t callgrind_rounds = 200;
  int reps = 21;
  bool callgrind = true;
};

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    auto next = [&](const char** v) {
      if (i + 1 >= argc)
        return false;
      *v = argv[++i];
      return true;
    };
    const char* v = nullptr;
    if (a == "--json" && next(&v)) {
      o->json = v;
    } else if (a == "--child" && next(&v)) {
      o->child = v;
    } else if (a == "--rounds" && next(&v)) {
      o->rounds = o->callgrind_rounds = std::strtoull(v, nullptr, 10);
    } else if (a == "--reps" && next(&v)) {
      o->reps = std::max(1, std::atoi(v));
    } else if (a == "--no-callgrind") {
      o->callgrind = false;
    } else {
      return false;
    }
  }
  return o->rounds > 0;
}

uint64_t lcg(uint64_t* x) {
  *x = *x * 6364136223846793005ull + 1442695040888963407ull;
  return *x >> 33;
}

// The regions of layout `l` (boundaries shifted by l pages here and there); the access
// pattern is fixed per region index, so it stays with the address range.
std::vector<Region> make_layout(size_t l) {
  std::vector<Region> rs;
  uint64_t x = 42;  // the same sizes and roles for every layout
  for (size_t t = 0; t < kTargets; t++) {
    uint64_t a = 0x7f0000000000;
    for (size_t i = 0; i < kRegions / kTargets; i++) {
      uint64_t pages = 16 + lcg(&x) % 2032;  // 64 KiB .. 8 MiB
      uint64_t role = lcg(&x) % 10;          // 0-1 hot, 2 flaky, rest cold
      uint64_t start = a, end = a + pages * 4096;
      // Every other region boundary moves by (l % 4) pages: DAMON's splits and merges.
      if (i % 2 == 1 && pages > 8)
        end -= (l % 4) * 4096;
      Region r{start, end, static_cast<uint32_t>(100 + t), 0, 0, 0};
      r.age = static_cast<uint32_t>(role < 2 ? 3 : 30 + l);
      if (role < 2)
        r.nr_accesses = kMaxAccesses;
      else if (role == 2)
        r.nr_accesses = (l + i) % 3 == 0 ? 5 : 0;
      rs.push_back(r);
      a = end;
      // The next region starts where this one ends (moved or not).
    }
  }
  return rs;
}

class Loop {
 public:
  explicit Loop(uint16_t policy) {
    AgentConfig c;
    c.policy = policy;
    c.clock = &clock_;  // the service injects the real clock: its cost is in the figure
    // ... but the budget must not run out: under callgrind (~50x slower) it would, and part
    // of the batch would fall back, so the count would measure the slowdown, not the model.
    c.model_budget_ns = UINT64_MAX;
    agent_ = std::make_unique<MemAgent>(c);
    for (size_t l = 0; l < kLayouts; l++)
      layouts_.push_back(make_layout(l));
    out_.reserve(2 * kRegions);
  }
  void run(uint64_t n) {
    for (uint64_t i = 0; i < n; i++) {
      seq_++;
      BatchInfo info{seq_, seq_ * kIntervalNs, 100'000, kMaxAccesses};
      out_.clear();
      agent_->Decide(info, layouts_[seq_ % kLayouts], info.collected_ns + 1'000'000, &out_);
      decisions_ += out_.size();
    }
    batches_ += n;
  }
  uint64_t batches() const { return batches_; }
  uint64_t decisions() const { return decisions_; }
  const MemAgent& agent() const { return *agent_; }

 private:
  MonotonicClock clock_;
  std::unique_ptr<MemAgent> agent_;
  std::vector<std::vector<Region>> layouts_;
  std::vector<Decision> out_;
  uint64_t seq_ = 0;
  uint64_t batches_ = 0;
  uint64_t decisions_ = 0;
};

uint16_t policy_of(const std::string& name) {
  return name == "sol" ? WAVE_MEM_POLICY_SOL : WAVE_MEM_POLICY_AGE;
}

}  // namespace

// The measured rounds: callgrind counts only inside this function.
extern "C" __attribute__((noinline)) void mem_bench_measured_rounds(Loop* loop, uint64_t n) {
  loop->run(n);
}

namespace {

int run_child(const Options& o) {
  Loop loop(policy_of(o.child));
  loop.run(50);  // warm: the model has learned, the buffers are grown
  uint64_t before = loop.batches();
  mem_bench_measured_rounds(&loop, o.callgrind_rounds);
  std::printf("batches %llu\n", static_cast<unsigned long long>(loop.batches() - before));
  return loop.agent().stats().slow_batches == 0 ? 0 : 1;
}

std::string self_path() {
  char buf[4096];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0)
    return "";
  buf[n] = 0;
  return buf;
}

std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s)
    out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Instructions per batch of `policy` under callgrind, or a negative value if it failed.
double callgrind_instructions(const Options& o, const std::string& policy) {
  char out_file[] = "/tmp/mem_agent_bench_cg.XXXXXX";
  int fd = mkstemp(out_file);
  if (fd < 0)
    return -1;
  close(fd);
  std::ostringstream cmd;
  cmd << "valgrind --tool=callgrind --collect-atstart=no "
      << "--toggle-collect=mem_bench_measured_rounds --callgrind-out-file=" << out_file << " "
      << shell_quote(self_path()) << " --child " << policy << " --rounds " << o.callgrind_rounds
      << " 2>/dev/null";
  FILE* p = popen(cmd.str().c_str(), "r");
  if (p == nullptr) {
    unlink(out_file);
    return -1;
  }
  unsigned long long batches = 0;
  char line[256];
  while (std::fgets(line, sizeof(line), p) != nullptr)
    std::sscanf(line, "batches %llu", &batches);
  int rc = pclose(p);
  unsigned long long ir = 0;
  std::ifstream in(out_file);
  std::string l;
  while (std::getline(in, l)) {
    if (l.rfind("totals:", 0) == 0)
      ir = std::strtoull(l.c_str() + 7, nullptr, 10);
  }
  unlink(out_file);
  if (rc != 0 || batches == 0 || ir == 0)
    return -1;
  return static_cast<double>(ir) / static_cast<double>(batches);
}

double now_ns() {
  return std::chrono::duration<double, std::nano>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

struct Result {
  std::vector<double> ns;  // per batch, one per repetition
  double instructions = -1;
  double decisions_per_batch = 0;
  double model_share = 0;  // regions the model decided, of all (sol)
  double median() const {
    std::vector<double> v = ns;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  }
  double min() const { return *std::min_element(ns.begin(), ns.end()); }
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: mem_agent_bench [--json PATH] [--rounds N] [--reps N] "
                 "[--no-callgrind]\n");
    return 2;
  }
  if (!o.child.empty())
    return run_child(o);

  const char* const policies[] = {"age", "sol"};
  std::vector<std::unique_ptr<Loop>> loops;
  std::vector<Result> results(std::size(policies));
  for (const char* p : policies) {
    loops.push_back(std::make_unique<Loop>(policy_of(p)));
    loops.back()->run(50);
  }
  // Repetitions interleave the policies, so a noisy moment hits both.
  for (int rep = 0; rep < o.reps; rep++) {
    for (size_t k = 0; k < loops.size(); k++) {
      Loop* loop = loops[k].get();
      uint64_t before = loop->batches();
      double t0 = now_ns();
      mem_bench_measured_rounds(loop, o.rounds);
      double t1 = now_ns();
      results[k].ns.push_back((t1 - t0) / static_cast<double>(loop->batches() - before));
    }
  }
  for (size_t k = 0; k < loops.size(); k++) {
    const auto& s = loops[k]->agent().stats();
    results[k].decisions_per_batch =
        static_cast<double>(loops[k]->decisions()) / static_cast<double>(loops[k]->batches());
    results[k].model_share = static_cast<double>(s.model_regions) /
                             static_cast<double>(std::max<uint64_t>(s.regions, 1));
  }
  bool have_valgrind = o.callgrind && std::system("valgrind --version >/dev/null 2>&1") == 0;
  if (have_valgrind) {
    for (size_t k = 0; k < loops.size(); k++)
      results[k].instructions = callgrind_instructions(o, policies[k]);
  }

  std::printf("memory agent, one batch of %zu regions: median of %d repetitions of %llu batches\n",
              kRegions, o.reps, static_cast<unsigned long long>(o.rounds));
  std::printf("%-6s %12s %12s %14s %14s %12s\n", "policy", "median ns", "best ns", "instructions",
              "decisions", "model share");
  for (size_t k = 0; k < loops.size(); k++) {
    const Result& r = results[k];
    std::printf("%-6s %12.0f %12.0f %14.0f %14.1f %12.3f\n", policies[k], r.median(), r.min(),
                r.instructions, r.decisions_per_batch, r.model_share);
  }
  const auto& sol = loops[1]->agent().stats();
  std::printf("sol: %llu granules tracked, recent accuracy %.3f, trusted %d, slow batches %llu\n",
              static_cast<unsigned long long>(sol.granules_tracked), sol.recent_accuracy,
              sol.model_trusted ? 1 : 0, static_cast<unsigned long long>(sol.slow_batches));

  if (!o.json.empty()) {
    FILE* f = std::fopen(o.json.c_str(), "w");
    if (f == nullptr) {
      std::perror(o.json.c_str());
      return 1;
    }
    std::fprintf(f, "{\n  \"benchmark\": \"mem_agent\",\n  \"regions_per_batch\": %zu,\n",
                 kRegions);
    std::fprintf(f, "  \"rounds\": %llu,\n  \"reps\": %d,\n",
                 static_cast<unsigned long long>(o.rounds), o.reps);
    for (size_t k = 0; k < loops.size(); k++) {
      const Result& r = results[k];
      const char* key = policies[k];
      std::fprintf(f, "  \"%s_batch_ns\": %.0f,\n", key, r.median());
      std::fprintf(f, "  \"%s_batch_ns_best\": %.0f,\n", key, r.min());
      if (r.instructions > 0)
        std::fprintf(f, "  \"%s_batch_instructions\": %.0f,\n", key, r.instructions);
      else
        std::fprintf(f, "  \"%s_batch_instructions\": null,\n", key);
      std::fprintf(f, "  \"%s_decisions_per_batch\": %.1f,\n", key, r.decisions_per_batch);
    }
    std::fprintf(f, "  \"sol_model_share\": %.3f,\n", results[1].model_share);
    std::fprintf(f, "  \"sol_granules_tracked\": %llu,\n",
                 static_cast<unsigned long long>(sol.granules_tracked));
    std::fprintf(f, "  \"callgrind\": %s\n}\n", have_valgrind ? "true" : "false");
    std::fclose(f);
  }
  return 0;
}
