// wave-sched-agent: runs a scheduling agent (FIFO, Shinjuku or VM) on the NIC side of the
// scheduling link, in a plain polling loop, until SIGINT/SIGTERM or --seconds; then prints the
// agent's counters as one JSON line.
//
//   wave-sched-agent --device wave:/dev/wave0 [--policy fifo|shinjuku|vm] [--cpus N]
//                    [--slice-ns N] [--seconds N]
//
// Without --policy, --cpus or --slice-ns the values come from the link's wave_sched_info
// block (uapi/wave_sched_link.h), which wave.ko wrote and which is checked before use; the VM
// policy's table always comes from the link (WAVE_SCHED_VM_CFG_OFF), checked the same way.
#include <endian.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>

#include "policies/sched/fifo/fifo_policy.h"
#include "policies/sched/runners/link_agent.h"
#include "policies/sched/shinjuku/shinjuku_policy.h"
#include "wave/device.h"
#include "wave/link.h"
#include "wave_sched_link.h"

namespace {

volatile sig_atomic_t g_stop = 0;
void on_signal(int) {
  g_stop = 1;
}

struct Options {
  std::string device;
  uint32_t policy = 0;  // WAVE_SCHED_POLICY_*, 0: from the info block
  uint32_t cpus = 0;
  uint64_t slice_ns = 0;
  double seconds = 0;
};

bool parse(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; i++) {
    std::string a = argv[i];
    if (i + 1 >= argc)
      return false;
    std::string v = argv[++i];
    if (a == "--device") {
      o->device = v;
    } else if (a == "--policy" && (v == "fifo" || v == "shinjuku" || v == "vm")) {
      o->policy = v == "fifo"       ? WAVE_SCHED_POLICY_FIFO
                  : v == "shinjuku" ? WAVE_SCHED_POLICY_SHINJUKU
                                    : WAVE_SCHED_POLICY_VM;
    } else if (a == "--cpus") {
      o->cpus = static_cast<uint32_t>(std::strtoul(v.c_str(), nullptr, 10));
    } else if (a == "--slice-ns") {
      o->slice_ns = std::strtoull(v.c_str(), nullptr, 10);
    } else if (a == "--seconds") {
      o->seconds = std::strtod(v.c_str(), nullptr);
    } else {
      return false;
    }
  }
  return !o->device.empty() && o->cpus <= WAVE_SCHED_MAX_CPUS;
}

// The info block wave.ko wrote into the message region; false if it is not valid.
bool read_info(const wave::NicLink& link, wave_sched_info* out) {
  const wave::QueueRegion& r = link.message_region();
  if (r.size < WAVE_SCHED_INFO_OFF + sizeof(wave_sched_info))
    return false;
  std::memcpy(out, r.base + WAVE_SCHED_INFO_OFF, sizeof(*out));
  return le32toh(out->magic) == WAVE_SCHED_INFO_MAGIC &&
         le16toh(out->version) == WAVE_SCHED_INFO_VERSION &&
         le16toh(out->policy) <= WAVE_SCHED_POLICY_MAX && le32toh(out->nr_cpus) >= 1 &&
         le32toh(out->nr_cpus) <= WAVE_SCHED_MAX_CPUS;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!parse(argc, argv, &o)) {
    std::fprintf(stderr,
                 "usage: wave-sched-agent --device SPEC [--policy fifo|shinjuku|vm] [--cpus N] "
                 "[--slice-ns N] [--seconds N]\n");
    return 2;
  }
  auto dev = wave::Device::Open(o.device, wave::Role::kNic);
  if (!dev.ok()) {
    std::fprintf(stderr, "wave-sched-agent: %s: %s\n", o.device.c_str(),
                 dev.error().message.c_str());
    return 1;
  }
  auto link = wave::NicLink::Attach(*dev.value());
  if (!link.ok()) {
    std::fprintf(stderr, "wave-sched-agent: no scheduling link: %s\n",
                 link.error().message.c_str());
    return 1;
  }
  wave_sched_info info{};
  bool have_info = read_info(*link.value(), &info);
  uint32_t policy = o.policy != 0 ? o.policy : (have_info ? le16toh(info.policy) : 0);
  uint32_t cpus = o.cpus != 0 ? o.cpus : (have_info ? le32toh(info.nr_cpus) : 0);
  if (policy != WAVE_SCHED_POLICY_FIFO && policy != WAVE_SCHED_POLICY_SHINJUKU &&
      policy != WAVE_SCHED_POLICY_VM) {
    std::fprintf(stderr, "wave-sched-agent: no policy (give --policy; info block %s)\n",
                 have_info ? "names none" : "invalid");
    return 1;
  }
  if (cpus == 0) {
    std::fprintf(stderr, "wave-sched-agent: host CPU count unknown (give --cpus)\n");
    return 1;
  }

  wave::agents::AgentConfig cfg;
  cfg.nr_cpus = std::min(cpus, link.value()->decisions().nr_cpus());
  cfg.epoch = wave::agents::link_agent_epoch(*link.value());
  std::unique_ptr<wave::agents::Agent> agent;
  if (policy == WAVE_SCHED_POLICY_FIFO) {
    agent = std::make_unique<wave::agents::FifoPolicy>(cfg);
  } else if (policy == WAVE_SCHED_POLICY_VM) {
    wave::agents::VmConfig vm;
    std::string why;
    if (!wave::agents::link_vm_config(*link.value(), cfg.nr_cpus, &vm, &why)) {
      std::fprintf(stderr, "wave-sched-agent: VM table refused: %s\n", why.c_str());
      return 1;
    }
    agent = std::make_unique<wave::agents::VmPolicy>(cfg, vm);
  } else {
    wave::agents::ShinjukuConfig sj;
    uint64_t info_slice = have_info ? le64toh(info.slice_ns) : 0;
    sj.slice_ns =
        o.slice_ns != 0 ? o.slice_ns : (info_slice != 0 ? info_slice : WAVE_SCHED_DEFAULT_SLICE_NS);
    agent = std::make_unique<wave::agents::ShinjukuPolicy>(cfg, sj);
  }
  wave::agents::LinkAgent pump(*link.value(), *agent);

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  auto start = std::chrono::steady_clock::now();
  uint32_t idle_rounds = 0;
  while (!g_stop) {
    if (pump.poll_once() != 0) {
      idle_rounds = 0;
      continue;
    }
    // Busy-poll for a while after work, then back off: a NIC core would keep polling.
    if (++idle_rounds > 1000)
      usleep(50);
    if (o.seconds > 0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            o.seconds) {
      break;
    }
  }

  const wave::agents::AgentStats& s = agent->stats();
  std::printf(
      "{\"policy\":\"%s\",\"cpus\":%u,\"epoch\":%llu,\"events\":%llu,\"dropped\":%llu,"
      "\"decisions\":%llu,\"prestaged\":%llu,\"committed\":%llu,\"stale\":%llu,"
      "\"aborted\":%llu,\"cpu_unavailable\":%llu,\"invalid\":%llu,\"late_outcomes\":%llu,"
      "\"preemptions\":%llu,\"timed_out\":%llu,\"tasks\":%u}\n",
      policy == WAVE_SCHED_POLICY_FIFO ? "fifo" : "shinjuku", cfg.nr_cpus,
      static_cast<unsigned long long>(cfg.epoch), static_cast<unsigned long long>(s.events),
      static_cast<unsigned long long>(s.dropped()), static_cast<unsigned long long>(s.decisions),
      static_cast<unsigned long long>(s.prestaged),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_COMMITTED]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_STALE]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_ABORTED]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_CPU_UNAVAILABLE]),
      static_cast<unsigned long long>(s.outcomes[WAVE_TXN_INVALID]),
      static_cast<unsigned long long>(s.late_outcome),
      static_cast<unsigned long long>(s.preemptions), static_cast<unsigned long long>(s.timed_out),
      agent->nr_tasks());
  return 0;
}
