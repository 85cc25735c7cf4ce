// frame_link_bench: the two migration-link transports side by side in one run, a host thread
// and a NIC thread on one machine: ShmLink (the runtime's byte rings in a memfd) and QueueLink
// (libwave slot rings in two queue regions of a shm: Wave device, a doorbell or interrupt per
// frame). Measured: round trip of a 64-byte request and its reply (both sides poll), and
// one-way streaming of 4 KiB frames (frames/s). QueueLink runs twice: first with receivers
// that never sleep (rung after every frame), then after both have slept once, so that they
// announce their sleeps and a frame to a polling receiver rings no doorbell.
//   frame_link_bench [--json] [--round-trips N] [--frames N]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "runtime/migration/queue_link.h"
#include "runtime/migration/shm_link.h"

namespace {

using Clock = std::chrono::steady_clock;
using wave::rt::mig::FrameChannel;
using wave::rt::mig::FrameHeader;
using wave::rt::mig::FrameType;
using wave::rt::mig::MigrationLink;

struct Result {
  double round_trip_ns = 0;
  double frames_per_s = 0;
};

void recv_spin(FrameChannel& ch, const FrameChannel::FrameFn& fn) {
  while (ch.recv(fn) != FrameChannel::Recv::kFrame) {
  }
}

void send_spin(FrameChannel& ch, FrameType type, uint64_t arg, std::span<const std::byte> p) {
  while (!ch.send(type, 1, 0, arg, 0, p)) {
  }
}

Result run(MigrationLink& host, MigrationLink& nic, int round_trips, int frames) {
  Result r;
  std::vector<std::byte> small(64, std::byte{0x5a});
  std::vector<std::byte> big(4096, std::byte{0xa5});
  // The NIC echoes round_trips requests, then takes `frames` one-way frames.
  std::thread nic_thread([&] {
    std::vector<std::byte> copy;
    for (int i = 0; i < round_trips; ++i) {
      uint64_t arg = 0;
      recv_spin(nic.rx(), [&](const FrameHeader& h, std::span<const std::byte> p) {
        arg = h.arg0;
        copy.assign(p.begin(), p.end());
      });
      send_spin(nic.tx(), FrameType::kReply, arg, copy);
    }
    for (int i = 0; i < frames; ++i)
      recv_spin(nic.rx(), [](const FrameHeader&, std::span<const std::byte>) {});
  });
  const auto t0 = Clock::now();
  for (int i = 0; i < round_trips; ++i) {
    send_spin(host.tx(), FrameType::kRequest, i, small);
    recv_spin(host.rx(), [](const FrameHeader&, std::span<const std::byte>) {});
  }
  const auto t1 = Clock::now();
  for (int i = 0; i < frames; ++i)
    send_spin(host.tx(), FrameType::kChunk, i, big);
  nic_thread.join();
  const auto t2 = Clock::now();
  r.round_trip_ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / round_trips;
  r.frames_per_s = frames / std::chrono::duration<double>(t2 - t1).count();
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  bool json = false;
  int round_trips = 100000, frames = 200000;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--json") {
      json = true;
    } else if (a == "--round-trips" && i + 1 < argc) {
      round_trips = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--frames" && i + 1 < argc) {
      frames = std::max(1, std::atoi(argv[++i]));
    } else {
      std::fprintf(stderr, "usage: frame_link_bench [--json] [--round-trips N] [--frames N]\n");
      return 2;
    }
  }
  auto shm = wave::rt::mig::ShmLink::create(4 << 20);
  if (!shm) {
    std::fprintf(stderr, "frame_link_bench: cannot create the ShmLink\n");
    return 1;
  }
  auto shm_host = shm->open(wave::rt::mig::LinkSide::kHost);
  auto shm_nic = shm->open(wave::rt::mig::LinkSide::kNic);
  const std::string spec = "shm:frame-link-bench-" + std::to_string(getpid());
  std::string why;
  wave::rt::mig::QueueLinkConfig cfg;
  cfg.nr_slots = 4096;  // 4 MiB a direction, as the ShmLink
  auto q_host = wave::rt::mig::QueueLink::open(spec, wave::rt::mig::LinkSide::kHost, cfg, 0, &why);
  auto q_nic =
      q_host ? wave::rt::mig::QueueLink::open(spec, wave::rt::mig::LinkSide::kNic, cfg, 0, &why)
             : nullptr;
  if (!shm_host || !shm_nic || !q_host || !q_nic) {
    std::fprintf(stderr, "frame_link_bench: %s\n", why.c_str());
    return 1;
  }
  const Result s = run(*shm_host, *shm_nic, round_trips, frames);
  const Result q = run(*q_host, *q_nic, round_trips, frames);
  // The same link once both receivers have slept once (as the host runtime does when idle):
  // from then on they announce their sleeps, and a frame to a polling receiver rings nothing.
  (void)q_host->wait_rx(std::chrono::nanoseconds(0));
  (void)q_nic->wait_rx(std::chrono::nanoseconds(0));
  const Result qs = run(*q_host, *q_nic, round_trips, frames);
  if (json) {
    std::printf(
        "{\"frame_rtt_ns_shm_ring\": %.0f, \"frame_rtt_ns_queue_link\": %.0f, "
        "\"frames_per_s_4k_shm_ring\": %.0f, \"frames_per_s_4k_queue_link\": %.0f, "
        "\"frame_rtt_ns_queue_link_sleep_cells\": %.0f, "
        "\"frames_per_s_4k_queue_link_sleep_cells\": %.0f, "
        "\"round_trips\": %d, \"frames\": %d}\n",
        s.round_trip_ns, q.round_trip_ns, s.frames_per_s, q.frames_per_s, qs.round_trip_ns,
        qs.frames_per_s, round_trips, frames);
  } else {
    std::printf("transport    64 B round trip   4 KiB frames/s\n");
    std::printf("ShmRing      %10.0f ns   %12.0f\n", s.round_trip_ns, s.frames_per_s);
    std::printf("QueueLink    %10.0f ns   %12.0f\n", q.round_trip_ns, q.frames_per_s);
    std::printf("  sleep cells%10.0f ns   %12.0f\n", qs.round_trip_ns, qs.frames_per_s);
  }
  return 0;
}
