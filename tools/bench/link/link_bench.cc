// link_bench: libwave's link against boost::lockfree::spsc_queue and DPDK rte_ring, the
// core-to-core physical limit, and Wave's ablation under the link model. One run, side by
// side; each figure is the median of several interleaved rounds.
//
//   link_bench [--json PATH] [--rounds N] [--messages N] [--model mmio_read=800,...]
//   link_bench --profile BATCH [--messages N]   (single-threaded, for callgrind: profile.sh)
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "ablation.h"
#include "pingpong.h"
#include "profile.h"
#include "queue_bench.h"
#include "queues.h"

using namespace wave;
using namespace wave::bench;

namespace {

#ifdef WAVE_BENCH_OPT_LEVEL
constexpr const char* kOptLevel = WAVE_BENCH_OPT_LEVEL;
#else
constexpr const char* kOptLevel = "the build type's";
#endif

struct Options {
  std::string json;
  uint32_t rounds = 5;
  uint64_t messages = 2'000'000;
  uint32_t rtt_samples = 50'000;
  uint32_t decisions = 50'000;
  LinkModel model = LinkModel::Pcie();
  bool ablation = true;
  bool rtt = true;             // false: throughput only (quick A/B runs)
  uint32_t profile_batch = 0;  // nonzero: only the single-threaded instruction profile
};

bool ParseArgs(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    const std::string a = argv[i];
    auto next = [&]() -> const char* { return i + 1 < argc ? argv[++i] : nullptr; };
    const char* v = nullptr;
    if (a == "--json" && (v = next())) {
      o->json = v;
    } else if (a == "--rounds" && (v = next())) {
      o->rounds = static_cast<uint32_t>(std::max(1, std::atoi(v)));
    } else if (a == "--messages" && (v = next())) {
      o->messages = std::strtoull(v, nullptr, 10);
    } else if (a == "--profile" && (v = next())) {
      o->profile_batch = static_cast<uint32_t>(std::max(1, std::atoi(v)));
    } else if (a == "--throughput-only") {
      o->rtt = false;
      o->ablation = false;
    } else if (a == "--no-ablation") {
      o->ablation = false;
    } else if (a == "--model" && (v = next())) {
      auto m = LinkModel::Parse(v);
      if (!m.ok()) {
        fprintf(stderr, "%s\n", m.error().message.c_str());
        return false;
      }
      o->model = m.value();
    } else {
      fprintf(stderr,
              "usage: %s [--json PATH] [--rounds N] [--messages N] [--model SPEC] [--no-ablation]\n"
              "       [--throughput-only]\n"
              "       %s --profile BATCH [--messages N]\n",
              argv[0], argv[0]);
      return false;
    }
  }
  return true;
}

struct Samples {
  std::vector<double> tput, p50, p99;
  std::vector<double> limit;  // ping-pong measured just before each round trip series
};

template <typename Q>
void Measure(Q& q, uint32_t batch, const Options& o, const Tsc& tsc, Samples* s, bool* ok) {
  s->tput.push_back(Throughput(q, batch, o.messages, ok));
  if (!o.rtt)
    return;
  // The two vCPUs can move between near and distant host cores from one second to the next,
  // so each series of round trips gets its own physical limit, measured right before it.
  s->limit.push_back(Median(PingPong(o.rtt_samples / 10, tsc)));
  std::vector<double> rtt;
  RoundTrip(q, batch, o.rtt_samples / (batch == 1 ? 1 : 8), tsc, &rtt, ok);
  s->p50.push_back(Percentile(rtt, 0.50));
  s->p99.push_back(Percentile(rtt, 0.99));
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o))
    return 64;
  if (o.profile_batch)
    return RunProfile(o.profile_batch, o.messages) ? 0 : 1;
  const Tsc tsc;
  const std::string shm = "bench-link-" + std::to_string(::getpid());
  auto wq = WaveQueue::Create(shm);
  auto dq = DpdkQueue::Create();
  auto bq = std::make_unique<BoostQueue>();
  if (!wq || !dq) {
    fprintf(stderr, "link_bench: cannot set up %s\n", !wq ? "the libwave shm queue" : "rte_ring");
    return 1;
  }
  const char* names[3] = {"libwave_shm", "boost_spsc", "dpdk_rte_ring"};
  const uint32_t batches[2] = {1, 32};
  std::map<std::string, Samples> samples;
  std::vector<double> pingpong;
  std::vector<double> ablation[3];
  bool ok = true;
  const Mitigation modes[3] = {Mitigation::kNone, Mitigation::kWcWt, Mitigation::kPrestage};

  for (uint32_t round = 0; round < o.rounds; round++) {
    fprintf(stderr, "round %u/%u\n", round + 1, o.rounds);
    for (uint32_t b : batches) {
      const std::string sfx = "/" + std::to_string(b);
      // Each round starts with a different queue, so a drift in the machine's load does not
      // always favour the same one.
      for (uint32_t k = 0; k < 3; k++) {
        const uint32_t q = (round + k) % 3;
        Samples* s = &samples[names[q] + sfx];
        if (q == 0)
          Measure(*wq, b, o, tsc, s, &ok);
        else if (q == 1)
          Measure(*bq, b, o, tsc, s, &ok);
        else
          Measure(*dq, b, o, tsc, s, &ok);
      }
    }
    if (o.rtt)
      pingpong.push_back(Median(PingPong(o.rtt_samples, tsc)));
    for (int m = 0; m < 3 && o.ablation; m++) {
      AblationResult r =
          RunAblation(modes[m], o.model, o.decisions / (m == 0 ? 4 : 1), shm + "-abl");
      if (!r.ok)
        ok = false;
      ablation[m].push_back(r.decisions_per_s);
    }
  }

  const double pp = Median(pingpong);
  printf("\nLink benchmark (%u rounds, medians; 64-byte messages; cores 0 and 1; %s)\n", o.rounds,
         kOptLevel);
  printf("%-15s %5s %14s %12s %12s\n", "queue", "batch", "msgs/s", "rtt p50 ns", "rtt p99 ns");
  std::map<std::string, double> tput, p50;
  for (const char* n : names) {
    for (uint32_t b : batches) {
      const std::string key = std::string(n) + "/" + std::to_string(b);
      const Samples& s = samples[key];
      tput[key] = Median(s.tput);
      p50[key] = Median(s.p50);
      printf("%-15s %5u %14.0f %12.0f %12.0f\n", n, b, Median(s.tput), Median(s.p50),
             Median(s.p99));
    }
  }
  if (o.rtt)
    printf("pingpong (physical limit) rtt: %.0f ns\n", pp);
  // Per round, libwave's throughput over the better peer's in that same round: how reliably
  // libwave is ahead, which a comparison of medians alone does not show.
  std::vector<double> ratios[2];
  uint32_t won[2] = {0, 0};
  for (int k = 0; k < 2; k++) {
    const std::string sfx = "/" + std::to_string(batches[k]);
    const Samples& w = samples[names[0] + sfx];
    const Samples& bo = samples[names[1] + sfx];
    const Samples& dp = samples[names[2] + sfx];
    printf("batch %2u per-round libwave / better peer:", batches[k]);
    for (uint32_t r = 0; r < o.rounds; r++) {
      const double peer = std::max(bo.tput[r], dp.tput[r]);
      ratios[k].push_back(peer > 0 ? w.tput[r] / peer : 0.0);
      won[k] += ratios[k].back() >= 1.0;
      printf(" %.2f", ratios[k].back());
    }
    printf("  (ahead in %u/%u, median %.2f)\n", won[k], o.rounds, Median(ratios[k]));
  }
  // libwave's batch-1 round trip over the ping-pong measured just before it, per round.
  std::vector<double> rtt_over_limit;
  if (o.rtt) {
    const Samples& w1 = samples["libwave_shm/1"];
    for (size_t r = 0; r < w1.p50.size(); r++)
      rtt_over_limit.push_back(w1.limit[r] > 0 ? w1.p50[r] / w1.limit[r] : 0.0);
  }
  const double rtt_ratio = rtt_over_limit.empty() ? 0.0 : Median(rtt_over_limit);
  if (!rtt_over_limit.empty()) {
    printf("batch  1 libwave rtt p50 / ping-pong just before it, per round:");
    for (double r : rtt_over_limit)
      printf(" %.2f", r);
    printf("  (median %.2f)\n", rtt_ratio);
  }
  const double base = Median(ablation[0]);
  printf("ablation under link model [%s] (simulation):\n", o.model.ToString().c_str());
  for (int m = 0; m < 3; m++) {
    printf("  %-18s %12.0f decisions/s  x%.2f\n", MitigationName(modes[m]), Median(ablation[m]),
           base > 0 ? Median(ablation[m]) / base : 0.0);
  }
  const bool t_b1 =
      tput["libwave_shm/1"] >= std::max(tput["boost_spsc/1"], tput["dpdk_rte_ring/1"]);
  const bool t_b32 =
      tput["libwave_shm/32"] >= std::max(tput["boost_spsc/32"], tput["dpdk_rte_ring/32"]);
  const bool t_rtt = o.rtt && rtt_ratio <= 1.5;
  const bool t_abl = Median(ablation[2]) > Median(ablation[1]) && Median(ablation[1]) > base;
  printf(
      "targets: throughput b1 %s, b32 %s; rtt p50 <= 1.5x pingpong %s (%.2fx); ablation order %s\n",
      t_b1 ? "MET" : "MISSED", t_b32 ? "MET" : "MISSED", t_rtt ? "MET" : "MISSED", rtt_ratio,
      t_abl ? "MET" : "MISSED");
  if (!ok)
    printf("ERROR: a queue lost, duplicated or reordered messages, or a transaction failed\n");

  if (!o.json.empty()) {
    std::ofstream j(o.json);
    j << "{\n  \"rounds\": " << o.rounds << ",\n  \"messages_per_run\": " << o.messages
      << ",\n  \"queues\": {\n";
    for (int i = 0; i < 3; i++) {
      j << "    \"" << names[i] << "\": {\n";
      for (int k = 0; k < 2; k++) {
        const std::string key = std::string(names[i]) + "/" + std::to_string(batches[k]);
        const Samples& s = samples[key];
        j << "      \"batch_" << batches[k] << "\": {\"msgs_per_s\": " << uint64_t(Median(s.tput))
          << ", \"rtt_p50_ns\": " << uint64_t(Median(s.p50))
          << ", \"rtt_p99_ns\": " << uint64_t(Median(s.p99)) << "}" << (k == 0 ? ",\n" : "\n");
      }
      j << "    }" << (i < 2 ? ",\n" : "\n");
    }
    j << "  },\n  \"pingpong_rtt_ns\": " << uint64_t(pp) << ",\n";
    j << "  \"ablation\": {\n    \"link_model\": \"" << o.model.ToString() << "\",\n";
    for (int m = 0; m < 3; m++) {
      j << "    \"" << MitigationName(modes[m])
        << "_decisions_per_s\": " << uint64_t(Median(ablation[m])) << ",\n";
    }
    for (int m = 0; m < 3; m++) {
      j << "    \"" << MitigationName(modes[m])
        << "_ratio\": " << (base > 0 ? Median(ablation[m]) / base : 0.0) << (m < 2 ? ",\n" : "\n");
    }
    j << "  },\n  \"targets\": {\"throughput_batch_1\": " << (t_b1 ? "true" : "false")
      << ", \"throughput_batch_32\": " << (t_b32 ? "true" : "false")
      << ", \"rtt_p50_within_1_5x_pingpong\": " << (t_rtt ? "true" : "false")
      << ", \"ablation_order\": " << (t_abl ? "true" : "false") << "},\n";
    j << "  \"per_round_ratio_to_better_peer\": {";
    for (int k = 0; k < 2; k++) {
      j << "\"batch_" << batches[k] << "\": [";
      for (size_t r = 0; r < ratios[k].size(); r++)
        j << (r ? ", " : "") << ratios[k][r];
      j << "]" << (k == 0 ? ", " : "");
    }
    j << "},\n  \"rounds_ahead\": {\"batch_1\": " << won[0] << ", \"batch_32\": " << won[1]
      << "},\n";
    // Every round's figures, so rounds can be grouped afterwards by where the two vCPUs
    // landed (the ping-pong of the same round tells near from distant cores).
    j << "  \"per_round_msgs_per_s\": {";
    for (int i = 0; i < 3; i++) {
      for (int k = 0; k < 2; k++) {
        const std::string key = std::string(names[i]) + "/" + std::to_string(batches[k]);
        j << (i || k ? ", " : "") << "\"" << key << "\": [";
        const std::vector<double>& t = samples[key].tput;
        for (size_t r = 0; r < t.size(); r++)
          j << (r ? ", " : "") << uint64_t(t[r]);
        j << "]";
      }
    }
    j << "},\n  \"per_round_pingpong_rtt_ns\": [";
    for (size_t r = 0; r < pingpong.size(); r++)
      j << (r ? ", " : "") << uint64_t(pingpong[r]);
    j << "],\n  \"per_round_rtt_p50_over_pingpong_batch_1\": [";
    for (size_t r = 0; r < rtt_over_limit.size(); r++)
      j << (r ? ", " : "") << rtt_over_limit[r];
    j << "],\n  \"compiled_with\": \"" << kOptLevel << "\",\n";
    j << "  \"all_messages_intact\": " << (ok ? "true" : "false") << "\n}\n";
  }
  return ok ? 0 : 1;
}
