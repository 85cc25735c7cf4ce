#include "exchange_setup.h"

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <thread>

namespace wave::test {
namespace {

constexpr int kAttempts = 20000;  // of 1 ms each

// The first /dev/waveN that opens as a NIC side, i.e. a loopback device.
std::string FindLoopback() {
  for (int n = 0; n < 16; n++) {
    const std::string spec = "wave:/dev/wave" + std::to_string(n);
    if (Device::Open(spec, Role::kNic).ok())
      return spec;
  }
  return "";
}

}  // namespace

int ParseExchangeSpecs(int argc, char** argv, const char* more_usage, std::string* host_spec,
                       std::string* nic_spec) {
  if (argc >= 2 && std::string(argv[1]) == "wave:loopback") {
    *host_spec = *nic_spec = FindLoopback();
    if (host_spec->empty()) {
      fprintf(stderr, "no wave.ko loopback device (insmod wave.ko loopback=1)\n");
      return -1;
    }
    return 2;
  }
  if (argc >= 3) {
    *host_spec = argv[1];
    *nic_spec = argv[2];
    return 3;
  }
  fprintf(stderr, "usage: %s HOSTSPEC NICSPEC %s | wave:loopback %s\n", argv[0], more_usage,
          more_usage);
  return -1;
}

bool NicStartsFirst(const std::string& host_spec) {
  return host_spec.rfind("wave:", 0) == 0;
}

std::unique_ptr<HostLink> CreateHostLink(Device& dev, const LinkConfig& cfg, bool nic_first) {
  for (int i = 0; i < kAttempts; i++) {
    auto l = HostLink::Create(dev, cfg);
    if (l.ok())
      return std::move(l.value());
    if (l.error().code != ENODEV || !nic_first) {
      fprintf(stderr, "host: link: %s\n", l.error().message.c_str());
      return nullptr;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // NIC not ready yet
  }
  fprintf(stderr, "host: link: the NIC never became ready\n");
  return nullptr;
}

int OpenNicSide(const std::string& spec, bool need_dma, NicSide* out) {
  auto dev = Device::Open(spec, Role::kNic);
  if (!dev.ok()) {
    fprintf(stderr, "nic: %s\n", dev.error().message.c_str());
    return 10;
  }
  out->dev = std::move(dev.value());
  if (need_dma && out->dev->HostWindow().empty()) {
    fprintf(stderr, "nic: %s has no host DMA window (wave.ko host_window_size=0?)\n", spec.c_str());
    return 14;
  }
  if (Status st = out->dev->SetNicState(WAVE_NIC_STATE_READY); !st) {
    fprintf(stderr, "nic: %s\n", st.error().message.c_str());
    return 13;
  }
  std::string last_error = need_dma ? "no DMA queue" : "no link";
  for (int i = 0; i < kAttempts; i++) {
    auto l = NicLink::Attach(*out->dev);
    if (l.ok() && (!need_dma || l.value()->dma())) {
      out->link = std::move(l.value());
      return 0;
    }
    if (!l.ok())
      last_error = l.error().message;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  fprintf(stderr, "nic: attach: %s\n", last_error.c_str());
  return 11;
}

}  // namespace wave::test
