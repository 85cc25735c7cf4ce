// wave-mem-host-probe: manual testing of the memory mechanisms, no NIC.
//
//   wave-mem-host-probe watch [--seconds S] [--aggr-us A] [--sample-us S] PID...
//       DAMON (a kdamond of our own) on the PIDs; prints each batch's summary.
//   wave-mem-host-probe listen KDAMOND_PID NR_TARGETS [--seconds S] [--aggr-us A]
//       only the collector, on a kdamond that already runs (read only).
//   wave-mem-host-probe advise PID START LEN cold|pageout|willneed
//       one decision through the Enactor's checks; prints the outcome.
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "collector.h"
#include "damon_monitor.h"
#include "enactor.h"
#include "target_table.h"

using namespace wave::mem;

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

int Usage() {
  fprintf(stderr,
          "usage: wave-mem-host-probe watch [--seconds S] [--aggr-us A] [--sample-us S] PID...\n"
          "       wave-mem-host-probe listen KDAMOND_PID NR_TARGETS [--seconds S] [--aggr-us A]\n"
          "       wave-mem-host-probe advise PID START LEN cold|pageout|willneed\n");
  return 2;
}

void PrintBatch(const BatchInfo& info, std::span<const Region> regions) {
  uint64_t bytes = 0, hot = 0;
  for (const Region& r : regions) {
    bytes += r.bytes();
    if (r.nr_accesses)
      hot += r.bytes();
  }
  printf("batch %llu: %zu regions, %llu MiB, %llu MiB accessed (max_accesses %u)\n",
         (unsigned long long)info.seq, regions.size(), (unsigned long long)(bytes >> 20),
         (unsigned long long)(hot >> 20), info.max_accesses);
  fflush(stdout);
}

int Collect(Collector* c, double seconds) {
  const uint64_t until = NowNs() + static_cast<uint64_t>(seconds * 1e9);
  while (NowNs() < until) {
    wave::Result<int> r = c->Poll(200);
    if (!r.ok()) {
      fprintf(stderr, "%s\n", r.error().message.c_str());
      return 1;
    }
  }
  const CollectorCounters k = c->counters();
  printf(
      "records %llu, filtered %llu, lost %llu, batches %llu, cut %llu, timed out %llu, "
      "unknown target %llu\n",
      (unsigned long long)k.bpf_recorded, (unsigned long long)k.bpf_filtered,
      (unsigned long long)k.bpf_lost, (unsigned long long)k.assembler.batches,
      (unsigned long long)k.assembler.cut, (unsigned long long)k.assembler.timed_out,
      (unsigned long long)k.assembler.unknown_target);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2)
    return Usage();
  const std::string cmd = argv[1];
  double seconds = 10;
  DamonConfig dc;
  std::vector<std::string> pos;
  for (int i = 2; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--seconds" && i + 1 < argc)
      seconds = atof(argv[++i]);
    else if (a == "--aggr-us" && i + 1 < argc)
      dc.aggr_us = static_cast<uint32_t>(atoi(argv[++i]));
    else if (a == "--sample-us" && i + 1 < argc)
      dc.sample_us = static_cast<uint32_t>(atoi(argv[++i]));
    else
      pos.push_back(a);
  }
  if (cmd == "advise" && pos.size() == 4) {
    TargetTable t;
    wave::Result<uint32_t> id = t.Add(atoi(pos[0].c_str()));
    if (!id.ok()) {
      fprintf(stderr, "%s\n", id.error().message.c_str());
      return 1;
    }
    Region r;
    r.start = strtoull(pos[1].c_str(), nullptr, 0);
    r.end = r.start + strtoull(pos[2].c_str(), nullptr, 0);
    r.target = *id;
    const uint8_t action = pos[3] == "cold"       ? WAVE_MEM_COLD
                           : pos[3] == "pageout"  ? WAVE_MEM_PAGEOUT
                           : pos[3] == "willneed" ? WAVE_MEM_WILLNEED
                                                  : 0;
    Enactor e(&t, nullptr);
    const Outcome o = e.Enact(EncodeDecision(1, r, action, WAVE_MEM_SRC_FALLBACK));
    printf("%s", OutcomeName(o));
    if (o == Outcome::kSyscallError || o == Outcome::kMapsError)
      printf(" (%s)", strerror(e.last_errno()));
    printf("\n");
    return o == Outcome::kOk ? 0 : 1;
  }
  if (cmd == "listen" && pos.size() == 2) {
    CollectorOptions o;
    o.aggr_us = dc.aggr_us;
    o.max_accesses = 65535;
    wave::Result<std::unique_ptr<Collector>> c =
        Collector::Create(o, PrintBatch, nullptr, atoi(pos[0].c_str()));
    if (!c.ok()) {
      fprintf(stderr, "%s\n", c.error().message.c_str());
      return 1;
    }
    std::vector<TargetSlot> slots;
    for (int i = 0; i < atoi(pos[1].c_str()); i++)
      slots.push_back({static_cast<uint32_t>(i + 1), 0});
    (*c)->SetTargets(slots);
    return Collect(c->get(), seconds);
  }
  if (cmd == "watch" && !pos.empty()) {
    TargetTable t;
    std::vector<MonitoredTarget> mts;
    for (const std::string& p : pos) {
      wave::Result<uint32_t> id = t.Add(atoi(p.c_str()));
      if (!id.ok()) {
        fprintf(stderr, "%s\n", id.error().message.c_str());
        return 1;
      }
      mts.push_back({*id, atoi(p.c_str())});
    }
    wave::Result<std::unique_ptr<DamonMonitor>> m = DamonMonitor::Create(dc);
    if (!m.ok()) {
      fprintf(stderr, "%s\n", m.error().message.c_str());
      return 1;
    }
    CollectorOptions o;
    o.aggr_us = dc.aggr_us;
    o.max_accesses = (*m)->max_accesses();
    wave::Result<std::unique_ptr<Collector>> c = Collector::Create(o, PrintBatch);
    if (!c.ok()) {
      fprintf(stderr, "%s\n", c.error().message.c_str());
      return 1;
    }
    if (wave::Status s = (*m)->SetTargets(mts); !s.ok()) {
      fprintf(stderr, "%s\n", s.error().message.c_str());
      return 1;
    }
    (*c)->SetKdamondPid((*m)->kdamond_pid());
    (*c)->SetTargets((*m)->slots());
    return Collect(c->get(), seconds);
  }
  return Usage();
}
