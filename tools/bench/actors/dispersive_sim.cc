#include "dispersive_sim.h"

#include <algorithm>
#include <optional>
#include <random>
#include <vector>

#include "hybrid_scheduler.h"  // private to the runtime: the simulation drives the policy itself
#include "runtime/clock.h"
#include "runtime/runtime_stats.h"

namespace wave::bench {
namespace {

double percentile_us(std::vector<uint64_t>& v, double p) {
  if (v.empty())
    return 0;
  const size_t k = std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())));
  std::nth_element(v.begin(), v.begin() + static_cast<long>(k), v.end());
  return static_cast<double>(v[k]) / 1000.0;
}

struct SimCore {
  std::optional<rt::Message> running;
  uint64_t done_at = 0;
};

}  // namespace

DispersiveResult run_dispersive(const DispersiveConfig& cfg) {
  rt::ManualClock clock;
  rt::SchedulerConfig sc = cfg.sched;
  sc.cores = cfg.cores;
  rt::HybridScheduler sched(sc, clock);
  // Actor ids: light 1..L, heavy L+1..L+H. Serial, as agents and stateful actors are.
  const uint32_t nactors = cfg.light_actors + cfg.heavy_actors;
  for (rt::ActorId id = 1; id <= nactors; ++id)
    sched.add_actor(id, true, false);

  std::mt19937_64 rng(cfg.seed);
  const double mean_service = (1 - cfg.long_fraction) * static_cast<double>(cfg.short_ns) +
                              cfg.long_fraction * static_cast<double>(cfg.long_ns);
  const double rate_per_ns = cfg.load * cfg.cores / mean_service;
  std::exponential_distribution<double> gap(rate_per_ns);
  std::uniform_real_distribution<double> coin(0, 1);
  std::uniform_int_distribution<uint32_t> pick_light(1, cfg.light_actors);
  std::uniform_int_distribution<uint32_t> pick_heavy(cfg.light_actors + 1, nactors);

  std::vector<SimCore> cores(cfg.cores);
  std::vector<uint64_t> short_lat, long_lat;
  const uint64_t measure_from = static_cast<uint64_t>(cfg.warmup * cfg.duration_ns);
  uint64_t busy_ns = 0;
  double next_arrival = gap(rng);
  uint64_t request_id = 0;
  uint32_t rotate = 0;

  auto dispatch = [&] {
    // Offer work to idle cores until none takes any (a completion can release parked work).
    bool progress = true;
    while (progress) {
      progress = false;
      for (uint32_t k = 0; k < cfg.cores; ++k) {
        const uint32_t c = (k + rotate) % cfg.cores;
        if (cores[c].running)
          continue;
        auto m = sched.next(c);
        if (!m)
          continue;
        cores[c].done_at = clock.now_ns() + m->cost_ns;
        cores[c].running = std::move(m);
        progress = true;
      }
    }
    ++rotate;
  };

  for (;;) {
    // The next event: an arrival or the earliest completion.
    uint64_t t_done = UINT64_MAX;
    uint32_t who = 0;
    for (uint32_t c = 0; c < cfg.cores; ++c) {
      if (cores[c].running && cores[c].done_at < t_done) {
        t_done = cores[c].done_at;
        who = c;
      }
    }
    const uint64_t t_arr = static_cast<uint64_t>(next_arrival);
    const uint64_t t = std::min(t_done, t_arr);
    if (t >= cfg.duration_ns)
      break;
    clock.set(t);
    if (t_done <= t_arr) {
      SimCore& core = cores[who];
      rt::Message m = std::move(*core.running);
      core.running.reset();
      sched.complete(who, m, m.cost_ns);
      if (m.arrival_ns >= measure_from) {
        busy_ns += m.cost_ns;
        (m.cost_ns == cfg.long_ns ? long_lat : short_lat).push_back(t - m.arrival_ns);
      }
    } else {
      rt::Message m;
      m.request_id = request_id++;
      const bool is_long = coin(rng) < cfg.long_fraction;
      m.dst = is_long ? pick_heavy(rng) : pick_light(rng);
      m.cost_ns = is_long ? cfg.long_ns : cfg.short_ns;
      sched.enqueue(m);
      next_arrival += gap(rng);
    }
    dispatch();
  }

  DispersiveResult r;
  r.mode = sc.mode;
  r.short_done = short_lat.size();
  r.long_done = long_lat.size();
  r.short_p50_us = percentile_us(short_lat, 0.50);
  r.short_p99_us = percentile_us(short_lat, 0.99);
  r.long_p50_us = percentile_us(long_lat, 0.50);
  r.long_p99_us = percentile_us(long_lat, 0.99);
  r.utilisation =
      static_cast<double>(busy_ns) /
      (static_cast<double>(cfg.cores) * static_cast<double>(cfg.duration_ns - measure_from));
  const rt::SchedStats st = sched.stats();
  r.fcfs_cores_end = st.fcfs_cores;
  r.drr_cores_end = st.drr_cores;
  r.core_moves = st.core_moves;
  return r;
}

}  // namespace wave::bench
