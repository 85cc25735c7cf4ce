#include "device_command.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "wave/device.h"
#include "wave/fence.h"
#include "wave_abi.h"
#include "wave_diag.h"

namespace wave::wavectl {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string device = "wave:/dev/wave0";
  std::string sysfs = "/sys/class/wave/wave0";
  bool json = false;
  int count = 100;
};

// Parses the options both commands share; returns false (after a message) on bad input.
bool ParseOptions(int argc, char** argv, Options* o) {
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--json") {
      o->json = true;
    } else if (a == "--device" && has_value) {
      o->device = argv[++i];
    } else if (a == "--sysfs" && has_value) {
      o->sysfs = argv[++i];
    } else if (a == "--count" && has_value) {
      char* end = nullptr;
      const long n = std::strtol(argv[++i], &end, 10);
      if (*end != '\0' || n < 1 || n > 1000000) {
        std::fprintf(stderr, "wavectl %s: --count takes 1..1000000\n", argv[0]);
        return false;
      }
      o->count = static_cast<int>(n);
    } else {
      std::fprintf(stderr,
                   "usage: wavectl %s [--device SPEC] [--sysfs DIR] [--json]%s\n"
                   "  SPEC: wave:/dev/waveN (default wave:/dev/wave0), vfio:BDF, shm:NAME\n",
                   argv[0], std::strcmp(argv[0], "ping") == 0 ? " [--count N]" : "");
      return false;
    }
  }
  return true;
}

std::string ReadSysfs(const std::string& dir, const char* attr) {
  std::ifstream f(dir + "/" + attr);
  std::string s;
  std::getline(f, s);
  return s;
}

// A name for each value of one ABI enumeration, for printing.
struct ValueName {
  uint32_t value;
  const char* name;
};

template <size_t N>
const char* NameOf(const ValueName (&names)[N], uint32_t value, const char* unknown) {
  for (const ValueName& n : names) {
    if (n.value == value)
      return n.name;
  }
  return unknown;
}

constexpr ValueName kNicStateNames[] = {
    {WAVE_NIC_STATE_OFF, "off"},
    {WAVE_NIC_STATE_READY, "ready"},
    {WAVE_NIC_STATE_STOPPING, "stopping"},
};
constexpr ValueName kCacheNames[] = {
    {WAVE_CACHE_UC, "UC"},
    {WAVE_CACHE_WC, "WC"},
    {WAVE_CACHE_WT, "WT"},
    {WAVE_CACHE_WB, "WB"},
};
constexpr ValueName kKindNames[] = {
    {WAVE_QKIND_RAW, "raw"},
    {WAVE_QKIND_MESSAGE, "message"},
    {WAVE_QKIND_DECISION, "decision"},
    {WAVE_QKIND_DMA, "dma"},
};

const char* NicStateName(uint32_t s) {
  return NameOf(kNicStateNames, s, "unknown");
}
const char* CacheName(uint32_t c) {
  return NameOf(kCacheNames, c, "?");
}
const char* KindName(uint32_t k) {
  return NameOf(kKindNames, k, "?");
}

std::string Features(uint64_t f) {
  std::string s;
  auto add = [&](uint64_t bit, const char* name) {
    if (f & bit)
      s += (s.empty() ? "" : ",") + std::string(name);
  };
  add(WAVE_FEAT_HEARTBEAT, "heartbeat");
  add(WAVE_FEAT_DOORBELL_IRQ, "doorbell-irq");
  add(WAVE_FEAT_DMA, "dma");
  return s.empty() ? "none" : s;
}

// The physical start of BAR2 of the PCI function behind sysfs dir (0 when not a PCI device).
uint64_t Bar2Phys(const std::string& sysfs) {
  std::ifstream f(sysfs + "/device/resource");
  std::string line;
  for (int i = 0; i <= 2 && std::getline(f, line); ++i) {
    if (i == 2)
      return std::strtoull(line.c_str(), nullptr, 16);
  }
  return 0;
}

// The memory type the kernel's PAT recorded for [start, end), or "" (debugfs needed).
std::string PatType(uint64_t start, uint64_t end) {
  std::ifstream f("/sys/kernel/debug/x86/pat_memtype_list");
  std::string line;
  while (std::getline(f, line)) {
    unsigned long long s = 0, e = 0;
    char type[64] = "";
    if (std::sscanf(line.c_str(), "PAT: [mem 0x%llx-0x%llx] %63s", &s, &e, type) == 3 &&
        s == start && e == end)
      return type;
  }
  return "";
}

// The start both commands share: parse the options, open the device as the host. Returns 0,
// or the exit code to stop with (2: bad options, 1: the device did not open).
int ParseAndOpen(int argc, char** argv, Options* o, std::unique_ptr<Device>* dev) {
  if (!ParseOptions(argc, argv, o))
    return 2;
  auto opened = Device::Open(o->device, Role::kHost);
  if (!opened) {
    std::fprintf(stderr, "wavectl: %s: %s\n", o->device.c_str(), opened.error().message.c_str());
    return 1;
  }
  *dev = std::move(opened.value());
  return 0;
}

}  // namespace

int RunInfo(int argc, char** argv) {
  Options o;
  std::unique_ptr<Device> dev;
  if (const int rc = ParseAndOpen(argc, argv, &o, &dev); rc != 0)
    return rc;
  const volatile wave_control_page* cp = dev->control();
  // The heartbeat's rate says the NIC is alive right now, not only that it was once.
  const uint64_t hb0 = cp->heartbeat;
  const auto t0 = Clock::now();
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const uint64_t hb1 = cp->heartbeat;
  const double secs = std::chrono::duration<double>(Clock::now() - t0).count();
  const double hb_rate = static_cast<double>(hb1 - hb0) / secs;
  const uint32_t nr_vectors = cp->nr_vectors;

  std::vector<wave_queue_desc> queues;
  std::vector<uint32_t> ids;
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; ++id) {
    auto q = ReadQueueDesc(cp, id, cp->bar_size);
    if (q && q->state == WAVE_QSTATE_ACTIVE) {
      queues.push_back(*q);
      ids.push_back(id);
    }
  }
  const std::string backend = ReadSysfs(o.sysfs, "backend");
  if (o.json) {
    std::printf(
        "{\"device\":\"%s\",\"backend\":\"%s\",\"abi\":\"%u.%u\",\"features\":\"%s\","
        "\"bar_size\":%" PRIu64
        ",\"nic_state\":\"%s\",\"nic_peer_id\":%u,\"nr_vectors\":%u,"
        "\"heartbeat\":%" PRIu64
        ",\"heartbeat_per_s\":%.0f,\"queue_table_gen\":%u,"
        "\"nic_doorbells\":%" PRIu64 ",\"nic_irqs_raised\":%" PRIu64 ",\"queues\":[",
        o.device.c_str(), backend.c_str(), cp->abi_major, cp->abi_minor,
        Features(cp->features).c_str(), static_cast<uint64_t>(cp->bar_size),
        NicStateName(cp->nic_state), cp->nic_peer_id, nr_vectors, hb1, hb_rate, cp->queue_table_gen,
        static_cast<uint64_t>(cp->nic_doorbells), static_cast<uint64_t>(cp->nic_irqs_raised));
    for (size_t i = 0; i < queues.size(); ++i) {
      const auto& q = queues[i];
      std::printf(
          "%s{\"id\":%u,\"dir\":\"%s\",\"cache\":\"%s\",\"kind\":\"%s\",\"vector\":%u,"
          "\"offset\":%" PRIu64 ",\"size\":%" PRIu64 "}",
          i ? "," : "", ids[i], q.dir == WAVE_DIR_HOST_TO_NIC ? "host-to-nic" : "nic-to-host",
          CacheName(q.cache_mode), KindName(q.kind), q.vector, static_cast<uint64_t>(q.offset),
          static_cast<uint64_t>(q.size));
    }
    std::printf("]}\n");
    return 0;
  }
  std::printf("device         %s (%s)\n", o.device.c_str(),
              backend.empty() ? "?" : backend.c_str());
  std::printf("ABI            %u.%u (this wavectl speaks %u.%u)\n", cp->abi_major, cp->abi_minor,
              WAVE_ABI_MAJOR, WAVE_ABI_MINOR);
  std::printf("features       %s\n", Features(cp->features).c_str());
  std::printf("BAR window     %" PRIu64 " KiB\n", static_cast<uint64_t>(cp->bar_size) >> 10);
  std::printf("NIC state      %s (ivshmem peer %u, %u vectors)\n", NicStateName(cp->nic_state),
              cp->nic_peer_id, nr_vectors);
  std::printf("NIC heartbeat  %" PRIu64 " (advancing %.0f/s)\n", hb1, hb_rate);
  std::printf("NIC counters   %" PRIu64 " doorbells seen, %" PRIu64 " interrupts raised\n",
              static_cast<uint64_t>(cp->nic_doorbells), static_cast<uint64_t>(cp->nic_irqs_raised));
  std::printf("queues         %zu active (table generation %u)\n", queues.size(),
              cp->queue_table_gen);
  for (size_t i = 0; i < queues.size(); ++i) {
    const auto& q = queues[i];
    std::printf("  #%-2u %-11s %-8s %s  vector %u  BAR+0x%" PRIx64 "  %" PRIu64 " KiB\n", ids[i],
                q.dir == WAVE_DIR_HOST_TO_NIC ? "host->NIC" : "NIC->host", KindName(q.kind),
                CacheName(q.cache_mode), q.vector, static_cast<uint64_t>(q.offset),
                static_cast<uint64_t>(q.size) >> 10);
  }
  return 0;
}

int RunPing(int argc, char** argv) {
  Options o;
  std::unique_ptr<Device> dev;
  if (const int rc = ParseAndOpen(argc, argv, &o, &dev); rc != 0)
    return rc;
  Device& d = *dev;
  constexpr uint64_t kQueueBytes = 64 * 1024;
  constexpr uint16_t kVector = 1;
  auto src = d.CreateQueue(
      {kQueueBytes, WAVE_DIR_HOST_TO_NIC, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, kVector});
  if (!src) {
    std::fprintf(stderr, "wavectl ping: %s\n", src.error().message.c_str());
    return 1;
  }
  auto dst = d.CreateQueue(
      {kQueueBytes, WAVE_DIR_NIC_TO_HOST, WAVE_CACHE_DEFAULT, WAVE_QKIND_RAW, kVector});
  if (!dst) {
    std::fprintf(stderr, "wavectl ping: %s\n", dst.error().message.c_str());
    d.DestroyQueue(src->id);
    return 1;
  }
  const int efd = d.EventFd(kVector);
  const uint64_t bar = Bar2Phys(o.sysfs);
  if (!o.json) {
    for (const QueueRegion* q : {&*src, &*dst}) {
      const std::string pat =
          bar ? PatType(bar + q->bar_offset, bar + q->bar_offset + q->size) : "";
      std::printf("queue #%u %s, %s mapping; kernel PAT memtype: %s\n", q->id,
                  q->dir == WAVE_DIR_HOST_TO_NIC ? "host->NIC" : "NIC->host",
                  CacheName(q->cache_mode), pat.empty() ? "(not a PCI BAR here)" : pat.c_str());
    }
  }
  // The NIC reads the queue table when the admin doorbell rings; give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(50));

  std::vector<double> rtt_us;
  int bad = 0, lost = 0;
  std::vector<uint8_t> payload(1024);
  auto* cmd = reinterpret_cast<volatile wave_echo_cmd*>(src->base);
  auto* rep = reinterpret_cast<volatile wave_echo_reply*>(dst->base);
  auto* out = reinterpret_cast<volatile uint8_t*>(src->base + sizeof(wave_echo_cmd));
  auto* back = reinterpret_cast<const volatile uint8_t*>(dst->base + sizeof(wave_echo_reply));
  for (int round = 1; round <= o.count; ++round) {
    const uint32_t len = 1 + static_cast<uint32_t>(round * 37) % payload.size();
    for (uint32_t i = 0; i < len; ++i)
      payload[i] = static_cast<uint8_t>(i * 13 + round);
    for (uint32_t i = 0; i < len; ++i)
      out[i] = payload[i];
    cmd->dst_queue = dst->id;
    cmd->len = len;
    cmd->seq = static_cast<uint32_t>(round);
    cmd->magic = WAVE_ECHO_CMD_MAGIC;
    FlushWrites(src->mem);
    const auto t0 = Clock::now();
    if (auto s = d.Notify(src->id, WAVE_ECHO_DOORBELL); !s) {
      std::fprintf(stderr, "wavectl ping: %s\n", s.error().message.c_str());
      return 1;
    }
    // Wait for the interrupt, then check the reply (the WT lines are dropped first, since
    // a real NIC's writes to its DRAM do not invalidate the host's cache).
    pollfd p{efd, POLLIN, 0};
    bool ok = false;
    if (efd >= 0 && ::poll(&p, 1, 2000) == 1) {
      uint64_t n;
      if (::read(efd, &n, sizeof(n)) == sizeof(n)) {
        for (uint32_t off = 0; off < sizeof(wave_echo_reply) + len; off += 64)
          InvalidateLine(reinterpret_cast<const volatile uint8_t*>(rep) + off);
        LoadFence(dst->mem);
        ok = rep->magic == WAVE_ECHO_REPLY_MAGIC && rep->seq == static_cast<uint32_t>(round);
      }
    }
    const auto t1 = Clock::now();
    if (!ok) {
      ++lost;
      continue;
    }
    bool same = rep->status == WAVE_ECHO_OK && rep->len == len;
    for (uint32_t i = 0; same && i < len; ++i)
      same = back[i] == static_cast<uint8_t>(~payload[i]);
    if (!same)
      ++bad;
    rtt_us.push_back(std::chrono::duration<double, std::micro>(t1 - t0).count());
  }
  d.DestroyQueue(src->id);
  d.DestroyQueue(dst->id);

  std::sort(rtt_us.begin(), rtt_us.end());
  auto pct = [&](double q) {
    return rtt_us.empty() ? 0.0 : rtt_us[static_cast<size_t>(q * (rtt_us.size() - 1))];
  };
  if (o.json) {
    std::printf(
        "{\"rounds\":%d,\"answered\":%zu,\"corrupt\":%d,\"lost\":%d,\"rtt_p50_us\":%.1f,"
        "\"rtt_p99_us\":%.1f,\"rtt_max_us\":%.1f}\n",
        o.count, rtt_us.size(), bad, lost, pct(0.5), pct(0.99), pct(1.0));
  } else {
    std::printf("%d echo round trips (1..%zu bytes each): %zu answered, %d corrupt, %d lost\n",
                o.count, payload.size(), rtt_us.size(), bad, lost);
    std::printf(
        "doorbell -> NIC -> interrupt -> bytes checked: p50 %.1f us, p99 %.1f us, "
        "max %.1f us (emulated link, TCG guest)\n",
        pct(0.5), pct(0.99), pct(1.0));
  }
  return bad == 0 && lost == 0 ? 0 : 1;
}

}  // namespace wave::wavectl
