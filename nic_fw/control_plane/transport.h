// How the NIC firmware reaches its host: the BAR window it shares with the host, the
// doorbells the host rings, and the interrupts the NIC raises. Two transports implement it:
//
//   IvshmemServer   the emulated SmartNIC: a shared file mapped by QEMU's ivshmem-doorbell
//                   device, doorbells and MSI-X vectors wired through eventfds that wave-nicd
//                   hands out as the ivshmem server.
//   LoopbackTransport  on-host mode: wave.ko's RAM-backed /dev/waveN, doorbells bound to
//                   eventfds with WAVE_IRQ_F_NIC_DOORBELL, interrupts raised by ioctl.
//
// Life cycle: Open (BAR mapped) -> the link publishes the control page -> Start(loop) (the
// host can reach the NIC from now on) -> ... -> Stop() (hosts detached, fds released).
#ifndef WAVE_NIC_FW_CONTROL_PLANE_TRANSPORT_H_
#define WAVE_NIC_FW_CONTROL_PLANE_TRANSPORT_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "base/event_loop.h"
#include "base/status.h"
#include "control_plane/link_stats.h"

namespace wave::nic {

class Transport {
 public:
  virtual ~Transport() = default;

  virtual std::string_view name() const = 0;
  // The whole BAR window as the NIC maps it.
  virtual std::span<std::byte> bar() const = 0;
  virtual uint32_t nr_vectors() const = 0;
  // The ivshmem peer id hosts ring (control page nic_peer_id).
  virtual uint32_t nic_peer_id() const = 0;
  // What the link must do to the BAR before it publishes the control page.
  enum class BarInit {
    kFresh,           // just created: already all zero
    kZero,            // reused backing store with stale contents: zero all of it
    kKeepHostFields,  // the host owns the memory and may have written its fields: keep them
  };
  virtual BarInit bar_init() const = 0;

  // Starts accepting hosts and registers the transport's own descriptors with `loop`.
  // `stats` receives host connection counters; it must outlive the transport.
  virtual Status Start(EventLoop& loop, LinkStats& stats) = 0;
  // The eventfd that becomes readable when the host rings `vector` (valid after Start).
  virtual int doorbell_fd(uint32_t vector) const = 0;
  // Interrupts the host on `vector`. False if it could not be delivered to any host. Any
  // thread may call it, while the transport is started (the scheduling agent's poller raises
  // the decision queue's interrupt itself, not through the event loop).
  virtual bool RaiseIrq(uint32_t vector) = 0;
  // Detaches every host and unregisters from the loop. Idempotent.
  virtual void Stop() = 0;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_TRANSPORT_H_
