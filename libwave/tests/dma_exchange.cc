// dma_exchange HOSTSPEC NICSPEC [BATCHES] [BENCH_MIB]
// dma_exchange wave:loopback [BATCHES] [BENCH_MIB]   (finds the wave.ko loopback device)
//
// DMA queue transfers between two processes over any backend with a host DMA window: the
// parent opens HOSTSPEC as the host and builds the link; a forked child opens NICSPEC as the
// NIC and runs the DMA engine (it maps the host window and the NIC buffer and copies).
//
// Check phase, BATCHES batches (default 200): each batch gathers up to 8 random
// scatter-gather lists (1..13 segments of 1..5000 bytes, fresh random bytes) from the host
// window into the NIC buffer and scatters each back to other, poisoned places of the window;
// the host compares the bytes it gets back with the bytes it sent, byte for byte. Each batch
// also carries one bad descriptor (a segment outside the window, overlapping segments, too
// many segments, a NIC range outside the buffer) that must complete with its error status.
// Every cookie must complete exactly once, and the NIC's counters must match the plan.
//
// Bench phase, BENCH_MIB MiB (default 256, 0 skips it): 64 KiB gathers of 8 segments, as many
// in flight as the ring holds; prints bytes/s beside a one-process memcpy of the same
// segments measured right after (the ratio is what to compare across runs). Exit status 0 when
// everything checked out.
// Example, inside the VM after `insmod kmod/wave.ko loopback=1`:
//   dma_exchange wave:loopback 200 256
#include <sched.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <thread>
#include <vector>

#include "exchange_setup.h"
#include "test_util.h"
#include "wave/link.h"

using namespace wave;

namespace {

constexpr uint32_t kBatchTransfers = 8;     // good round trips per batch
constexpr uint32_t kMaxSegLen = 5000;       // bytes
constexpr uint64_t kNicSlot = 64 * 1024;    // NIC buffer bytes per transfer of a batch
constexpr uint64_t kBenchXfer = 64 * 1024;  // bytes per bench descriptor
constexpr uint32_t kBenchSegs = 8;
// A batch gives each transfer window/16 bytes per direction for up to 13 segments of up to
// kMaxSegLen bytes and 300-byte gaps.
constexpr uint64_t kMinWindow = 2u << 20;
constexpr uint64_t kBadFlag = 1ull << 63;  // cookie bit of the deliberately bad descriptors

struct Plan {
  uint64_t batches = 200;
  uint64_t bench_xfers = 0;
  // Descriptors the NIC will see: two good ones per transfer, one bad one per batch.
  uint64_t good() const { return batches * kBatchTransfers * 2 + bench_xfers; }
  uint64_t bad() const { return batches; }
  uint64_t total() const { return good() + bad(); }
};

int RunNic(const std::string& spec, const Plan& plan) {
  test::NicSide side;
  if (int rc = test::OpenNicSide(spec, true, &side); rc != 0)
    return rc;
  NicLink* nic = side.link.get();
  uint64_t served = 0;
  auto last = std::chrono::steady_clock::now();
  while (served < plan.total()) {
    const uint32_t n = nic->dma()->Poll(32);
    served += n;
    if (n > 0) {
      last = std::chrono::steady_clock::now();
    } else {
      if (std::chrono::steady_clock::now() - last > std::chrono::seconds(30)) {
        fprintf(stderr, "nic: stalled after %llu descriptors\n",
                static_cast<unsigned long long>(served));
        return 4;
      }
      sched_yield();
    }
  }
  const DmaEngineStats& s = nic->dma()->stats();
  if (s.transfers != plan.good() || s.rejected != plan.bad()) {
    fprintf(
        stderr, "nic: %llu transfers, %llu rejected; planned %llu and %llu\n",
        static_cast<unsigned long long>(s.transfers), static_cast<unsigned long long>(s.rejected),
        static_cast<unsigned long long>(plan.good()), static_cast<unsigned long long>(plan.bad()));
    return 3;
  }
  return 0;
}

// The host side: submits, collects completions and checks them against what it expects.
class HostRun {
 public:
  HostRun(HostLink& link, std::span<uint8_t> window) : link_(link), win_(window) {}

  // Posts a descriptor, collecting completions while the ring is full.
  bool Submit(uint16_t op, uint64_t nic_off, std::span<const DmaSegment> sg, uint32_t status) {
    const uint64_t cookie = next_cookie_++;
    expect_.push_back(status);
    seen_.push_back(0);
    while (!link_.dma()->Submit(op, nic_off, sg, cookie)) {
      if (!Reap())
        return false;
    }
    return true;
  }

  // A descriptor Submit() would refuse, written into the ring slot directly, as a buggy or
  // hostile host could.
  bool SubmitTooManySegments() {
    const uint64_t cookie = (next_cookie_++) | kBadFlag;
    expect_.push_back(WAVE_DMA_EINVAL);
    seen_.push_back(0);
    for (;;) {
      const uint32_t n = link_.dma()->descs().EnqueueBatch(1, [&](uint32_t, uint8_t* payload) {
        wave_dma_desc d{};
        d.cookie = cookie;
        d.op = WAVE_DMA_TO_NIC;
        d.nr_sge = kDmaMaxSegments + 1;
        d.total_len = (kDmaMaxSegments + 1) * 64;
        d.nic_queue = link_.dma_region().id;
        std::memcpy(payload, &d, sizeof(d));
        for (uint32_t i = 0; i < kDmaMaxSegments; i++) {
          wave_dma_sge e{i * 64ull, 64, 0};
          std::memcpy(payload + sizeof(d) + i * sizeof(e), &e, sizeof(e));
        }
        return std::pair<uint16_t, uint16_t>{
            WAVE_MSG_DMA_REQ,
            static_cast<uint16_t>(sizeof(d) + kDmaMaxSegments * sizeof(wave_dma_sge))};
      });
      if (n == 1)
        return true;
      if (!Reap())
        return false;
    }
  }

  // Collects what has completed; false on a wrong, unknown or repeated completion.
  bool Reap() {
    wave_dma_done done[64];
    const uint32_t n = link_.dma()->PollDone(done);
    if (n == 0)
      sched_yield();
    for (uint32_t i = 0; i < n; i++) {
      const uint64_t id = done[i].cookie & ~kBadFlag;
      if (id >= expect_.size() || seen_[id]) {
        fprintf(stderr, "host: completion for cookie %llu unknown or repeated\n",
                static_cast<unsigned long long>(done[i].cookie));
        return false;
      }
      seen_[id] = 1;
      completed_++;
      if (done[i].status != expect_[id]) {
        fprintf(stderr, "host: cookie %llu: status %u, want %u\n",
                static_cast<unsigned long long>(id), done[i].status, expect_[id]);
        return false;
      }
    }
    return true;
  }

  bool Drain() {
    const auto t0 = std::chrono::steady_clock::now();
    while (completed_ < expect_.size()) {
      if (!Reap())
        return false;
      if (std::chrono::steady_clock::now() - t0 > std::chrono::seconds(30)) {
        fprintf(stderr, "host: %llu of %zu completions after 30 s\n",
                static_cast<unsigned long long>(completed_), expect_.size());
        return false;
      }
    }
    return true;
  }

  // One batch of round trips plus one bad descriptor of kind bad_kind (0..3).
  bool Batch(std::mt19937_64& rng, uint32_t bad_kind) {
    const uint64_t span = win_.size() / (2 * kBatchTransfers);  // per transfer, per direction
    std::vector<DmaSegment> src[kBatchTransfers], dst[kBatchTransfers];
    for (uint32_t t = 0; t < kBatchTransfers; t++) {
      const uint32_t nseg = 1 + rng() % kDmaMaxSegments;
      uint64_t at_src = t * span, at_dst = (kBatchTransfers + t) * span;
      for (uint32_t s = 0; s < nseg; s++) {
        const uint32_t len = 1 + rng() % kMaxSegLen;
        at_src += rng() % 300;  // gaps, and segments on no particular alignment
        at_dst += rng() % 300;
        src[t].push_back({at_src, len});
        dst[t].push_back({at_dst, len});
        for (uint32_t k = 0; k < len; k += 8) {
          const uint64_t r = rng();
          std::memcpy(&win_[at_src + k], &r, std::min<uint32_t>(8, len - k));
        }
        std::memset(&win_[at_dst], 0xee, len);
        at_src += len;
        at_dst += len;
      }
      // Segments are in reverse address order half of the time: the list, not the
      // addresses, gives the order of the bytes.
      if (rng() & 1) {
        std::reverse(src[t].begin(), src[t].end());
        std::reverse(dst[t].begin(), dst[t].end());
      }
    }
    // The engine serves descriptors in ring order, so each scatter follows its gather.
    for (uint32_t t = 0; t < kBatchTransfers; t++) {
      if (!Submit(WAVE_DMA_TO_NIC, t * kNicSlot, src[t], WAVE_DMA_OK) ||
          !Submit(WAVE_DMA_TO_HOST, t * kNicSlot, dst[t], WAVE_DMA_OK))
        return false;
      if (t == kBatchTransfers / 2 && !SubmitBad(bad_kind))
        return false;
    }
    if (!Drain())
      return false;
    for (uint32_t t = 0; t < kBatchTransfers; t++) {
      for (size_t s = 0; s < src[t].size(); s++) {
        if (std::memcmp(&win_[src[t][s].addr], &win_[dst[t][s].addr], src[t][s].len) != 0) {
          fprintf(stderr, "host: transfer %u segment %zu came back different\n", t, s);
          return false;
        }
      }
      bytes_checked_ += 2 * Total(src[t]);
    }
    return true;
  }

  // Gathers of kBenchXfer bytes, as many in flight as the ring holds. Returns seconds.
  double Bench(uint64_t xfers) {
    const uint64_t nic_slots = link_.dma_region().size / kBenchXfer;
    const uint64_t seg = kBenchXfer / kBenchSegs;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < xfers; i++) {
      DmaSegment sg[kBenchSegs];
      for (uint32_t s = 0; s < kBenchSegs; s++)  // every other 8 KiB of the window's start
        sg[s] = {(i % 8) * 2 * kBenchXfer + s * 2 * seg, static_cast<uint32_t>(seg)};
      if (!Submit(WAVE_DMA_TO_NIC, (i % nic_slots) * kBenchXfer, sg, WAVE_DMA_OK))
        return -1;
    }
    if (!Drain())
      return -1;
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  // The same copies by one process with memcpy, no queue and no second process: the limit
  // the DMA queue is measured against in the same run. Returns seconds.
  double MemcpyBaseline(uint64_t xfers) {
    std::vector<uint8_t> nic(link_.dma_region().size);
    const uint64_t nic_slots = nic.size() / kBenchXfer;
    const uint64_t seg = kBenchXfer / kBenchSegs;
    const auto t0 = std::chrono::steady_clock::now();
    for (uint64_t i = 0; i < xfers; i++) {
      uint8_t* to = nic.data() + (i % nic_slots) * kBenchXfer;
      for (uint32_t s = 0; s < kBenchSegs; s++)
        std::memcpy(to + s * seg, &win_[(i % 8) * 2 * kBenchXfer + s * 2 * seg], seg);
      asm volatile("" : : "r"(to) : "memory");  // keep the copies
    }
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  uint64_t bytes_checked() const { return bytes_checked_; }

 private:
  static uint64_t Total(const std::vector<DmaSegment>& sg) {
    uint64_t n = 0;
    for (const DmaSegment& s : sg)
      n += s.len;
    return n;
  }

  bool SubmitBad(uint32_t kind) {
    const uint64_t w = win_.size();
    switch (kind % 4) {
      case 0: {  // the last segment runs past the end of the window
        const DmaSegment sg[2] = {{0, 64}, {w - 32, 64}};
        return Submit(WAVE_DMA_TO_HOST, 0, sg, WAVE_DMA_EFAULT);
      }
      case 1: {  // two segments share bytes
        const DmaSegment sg[3] = {{4096, 100}, {8192, 10}, {4000, 200}};
        return Submit(WAVE_DMA_TO_HOST, 0, sg, WAVE_DMA_EINVAL);
      }
      case 2:
        return SubmitTooManySegments();
      default: {  // the NIC range runs past the NIC buffer
        const DmaSegment sg[1] = {{0, 4096}};
        return Submit(WAVE_DMA_TO_NIC, link_.dma_region().size - 100, sg, WAVE_DMA_EFAULT);
      }
    }
  }

  HostLink& link_;
  std::span<uint8_t> win_;
  uint64_t next_cookie_ = 0, completed_ = 0, bytes_checked_ = 0;
  std::vector<uint32_t> expect_;
  std::vector<uint8_t> seen_;
};

}  // namespace

int main(int argc, char** argv) {
  std::string host_spec, nic_spec;
  const int argi =
      test::ParseExchangeSpecs(argc, argv, "[BATCHES] [BENCH_MIB]", &host_spec, &nic_spec);
  if (argi < 0)
    return 64;
  Plan plan;
  if (argc > argi)
    plan.batches = std::strtoull(argv[argi], nullptr, 10);
  const uint64_t bench_mib = argc > argi + 1 ? std::strtoull(argv[argi + 1], nullptr, 10) : 256;
  plan.bench_xfers = bench_mib * (1u << 20) / kBenchXfer;

  const bool nic_first = test::NicStartsFirst(host_spec);
  auto dev = Device::Open(host_spec, Role::kHost);
  if (!dev.ok()) {
    fprintf(stderr, "host: %s\n", dev.error().message.c_str());
    return 10;
  }
  const std::span<uint8_t> window = dev.value()->HostWindow();
  if (window.size() < kMinWindow) {
    fprintf(stderr, "host: %s has a host DMA window of %zu bytes, need %llu (%s)\n",
            host_spec.c_str(), window.size(), static_cast<unsigned long long>(kMinWindow),
            window.empty() ? "wave.ko loaded with host_window_size=0, or an ABI 1.0 module"
                           : "raise host_window_size");
    return 14;
  }
  pid_t child = -1;
  if (nic_first)
    child = test::Spawn([&] { return RunNic(nic_spec, plan); });
  LinkConfig cfg;
  cfg.message_slots = 64;
  cfg.decision_slots = 64;
  cfg.dma_slots = 64;
  cfg.dma_buffer_size = kBatchTransfers * kNicSlot * 2;
  std::unique_ptr<HostLink> link = test::CreateHostLink(*dev.value(), cfg, nic_first);
  if (!link) {
    if (child > 0)
      ::kill(child, SIGKILL);
    return 11;
  }
  if (!nic_first)
    child = test::Spawn([&] { return RunNic(nic_spec, plan); });

  HostRun run(*link, window);
  std::mt19937_64 rng(42);
  const auto t0 = std::chrono::steady_clock::now();
  for (uint64_t b = 0; b < plan.batches; b++) {
    if (!run.Batch(rng, static_cast<uint32_t>(b))) {
      fprintf(stderr, "host: batch %llu failed\n", static_cast<unsigned long long>(b));
      ::kill(child, SIGKILL);  // it would wait for descriptors that never come
      test::Reap(child);
      return 2;
    }
  }
  const double check_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  double bench_s = 0, memcpy_s = 0;
  if (plan.bench_xfers) {
    bench_s = run.Bench(plan.bench_xfers);
    if (bench_s < 0) {
      ::kill(child, SIGKILL);
      test::Reap(child);
      return 2;
    }
    memcpy_s = run.MemcpyBaseline(plan.bench_xfers);
  }
  const int rc = test::Reap(child);
  printf(
      "dma_exchange %s: %llu round trips, %llu bytes checked, %llu bad descriptors refused "
      "(%.2f s); nic exit %d\n",
      host_spec.c_str(), static_cast<unsigned long long>(plan.batches * kBatchTransfers),
      static_cast<unsigned long long>(run.bytes_checked()),
      static_cast<unsigned long long>(plan.bad()), check_s, rc);
  if (plan.bench_xfers) {
    const double bytes = static_cast<double>(plan.bench_xfers * kBenchXfer);
    printf(
        "dma_exchange %s: bench %llu x %llu KiB gathers (%u segments): %.3f s, %.1f MB/s; "
        "memcpy of the same segments in one process %.1f MB/s; ratio %.2f\n",
        host_spec.c_str(), static_cast<unsigned long long>(plan.bench_xfers),
        static_cast<unsigned long long>(kBenchXfer >> 10), kBenchSegs, bench_s,
        bytes / bench_s / 1e6, bytes / memcpy_s / 1e6, memcpy_s / bench_s);
  }
  return rc == 0 ? 0 : 1;
}
