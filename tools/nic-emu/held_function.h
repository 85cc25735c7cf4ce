// The firmware's transport when the emulated function is held by another process
// (wave-nic-function, function_holder.h): it attaches to the holder's firmware socket and
// takes a lease on the function: the BAR file, the NIC's doorbell eventfds and the interrupt
// request eventfds, received by SCM_RIGHTS and checked one by one.
//
// A firmware attaches to a BAR that lived before it (a previous firmware, killed or stopped,
// and the host's queue table and rings are in it), so the link keeps the host-owned fields
// and re-publishes its own, as a rebooting NIC does. If the holder goes away the firmware has
// no hardware left: the transport stops the event loop.
#ifndef WAVE_TOOLS_NIC_EMU_HELD_FUNCTION_H_
#define WAVE_TOOLS_NIC_EMU_HELD_FUNCTION_H_

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/mapped_region.h"
#include "base/unique_fd.h"
#include "control_plane/transport.h"

namespace wave::nic::emu {

class HeldFunction final : public Transport {
 public:
  // Connects to the holder at `socket_path` and waits at most `timeout` for the grant. Fails
  // if another firmware holds the function, or if anything received is not what the
  // protocol promises.
  static Status Attach(const std::string& socket_path, std::chrono::milliseconds timeout,
                       std::unique_ptr<HeldFunction>* out);
  ~HeldFunction() override;

  std::string_view name() const override { return "function"; }
  std::span<std::byte> bar() const override { return bar_.bytes(); }
  uint32_t nr_vectors() const override { return static_cast<uint32_t>(doorbells_.size()); }
  uint32_t nic_peer_id() const override { return 0; }  // the holder's ivshmem server: peer 0
  BarInit bar_init() const override { return BarInit::kKeepHostFields; }

  Status Start(EventLoop& loop, LinkStats& stats) override;
  int doorbell_fd(uint32_t vector) const override;
  bool RaiseIrq(uint32_t vector) override;
  void Stop() override;

  // How many leases the holder had granted, this one included (1: first firmware).
  uint64_t lease() const { return lease_; }
  const std::string& socket_path() const { return socket_path_; }

 private:
  HeldFunction() = default;
  Status TakeGrant(std::chrono::milliseconds timeout);
  void OnHolderReady(uint32_t revents);

  std::string socket_path_;
  UniqueFd conn_;
  MappedRegion bar_;
  std::vector<UniqueFd> doorbells_;
  std::vector<UniqueFd> irqs_;
  std::mutex irq_mu_;  // RaiseIrq (any thread) against Stop closing the connection
  uint64_t lease_ = 0;
  EventLoop* loop_ = nullptr;
  EventLoop::WatchId watch_ = 0;
};

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_HELD_FUNCTION_H_
