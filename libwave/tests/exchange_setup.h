// The setup shared by the two-process exchange programs (link_exchange, dma_exchange): which
// devices to open, and a host link and a NIC link built while the other process comes up.
#ifndef WAVE_TESTS_EXCHANGE_SETUP_H_
#define WAVE_TESTS_EXCHANGE_SETUP_H_

#include <memory>
#include <string>

#include "wave/link.h"

namespace wave::test {

// Reads "HOSTSPEC NICSPEC" or "wave:loopback" (the first wave.ko loopback device, for both)
// from argv[1..]. Returns the index of the next argument, or -1 after printing why not.
int ParseExchangeSpecs(int argc, char** argv, const char* more_usage, std::string* host_spec,
                       std::string* nic_spec);

// On wave: the NIC side must be READY before the host may create queues, so the NIC process
// starts first; on the other backends the host creates the device the NIC attaches to.
bool NicStartsFirst(const std::string& host_spec);

// HostLink::Create, retried while the NIC is not ready yet (when it starts first). Prints the
// error and returns null on failure.
std::unique_ptr<HostLink> CreateHostLink(Device& dev, const LinkConfig& cfg, bool nic_first);

// Opens spec as the NIC, announces WAVE_NIC_STATE_READY as firmware does, and attaches once
// the host's link is there (with a DMA queue if need_dma). The queue area is reused, so a new
// region may still hold an earlier link's ring descriptors until the host rewrites them: every
// error is retried for a while. Prints the error and returns nonzero on failure.
struct NicSide {
  std::unique_ptr<Device> dev;
  std::unique_ptr<NicLink> link;
};
int OpenNicSide(const std::string& spec, bool need_dma, NicSide* out);

}  // namespace wave::test

#endif  // WAVE_TESTS_EXCHANGE_SETUP_H_
