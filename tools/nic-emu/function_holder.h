// The emulated SmartNIC's PCIe function, kept apart from its firmware. On real hardware,
// killing the NIC's firmware leaves the function up: BAR memory, doorbell registers and MSI-X
// stay where the host mapped them. QEMU's ivshmem-doorbell device cannot reconnect to a new
// ivshmem server, so the function must outlive the firmware in a process of its own: this
// holder is the ivshmem server (QEMU's connections, the BAR file, every eventfd) and lends
// the BAR and the NIC's eventfds to one firmware at a time over a second socket
// (function_protocol.h).
//
// The holder runs no firmware logic: it never reads doorbells and never writes the BAR (except
// zeroing a reused BAR file once at start, as a powered-up NIC's DRAM starts blank). It
// forwards the firmware's interrupt requests to the hosts. A firmware may die at any moment:
// its lease ends when its connection closes, and the next one attaches.
#ifndef WAVE_TOOLS_NIC_EMU_FUNCTION_HOLDER_H_
#define WAVE_TOOLS_NIC_EMU_FUNCTION_HOLDER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/event_loop.h"
#include "base/unique_fd.h"
#include "control_plane/link_stats.h"
#include "nic-emu/ivshmem_server.h"

namespace wave::nic::emu {

struct FunctionHolderConfig {
  IvshmemServerConfig function;  // QEMU's side
  std::string firmware_socket;   // where the firmware attaches
  // Firmware connections that have not asked for a lease yet; beyond this the oldest goes.
  uint32_t max_pending = 4;
};

struct FunctionHolderCounters {
  uint64_t leases = 0;           // firmware attached
  uint64_t lease_ends = 0;       // firmware connection closed (exit, crash, kill)
  uint64_t refused_busy = 0;     // a second firmware while one holds the lease
  uint64_t refused_garbage = 0;  // bad requests, data after the grant, stray descriptors
  uint64_t irqs_forwarded = 0;
};

class FunctionHolder {
 public:
  static Status Open(const FunctionHolderConfig& config, std::unique_ptr<FunctionHolder>* out);
  ~FunctionHolder();
  FunctionHolder(const FunctionHolder&) = delete;
  FunctionHolder& operator=(const FunctionHolder&) = delete;

  // Starts serving QEMU and firmware connections on `loop` (which must outlive the holder).
  Status Start(EventLoop& loop);
  // Ends the lease, disconnects the hosts, removes both sockets and a BAR file it created.
  void Stop();

  const IvshmemServer& function() const { return *server_; }
  const std::string& firmware_socket() const { return config_.firmware_socket; }
  bool leased() const { return firmware_.valid(); }
  const FunctionHolderCounters& counters() const { return counters_; }

 private:
  explicit FunctionHolder(const FunctionHolderConfig& config) : config_(config) {}

  void OnFirmwareListenReady();
  void OnPendingReady(uint64_t token);
  void DropPending(uint64_t token);
  void Grant(UniqueFd conn, uint32_t pid);
  void OnFirmwareReady(uint32_t revents);
  void EndLease(const char* why);
  void OnIrqRequest(uint32_t vector);

  struct Pending {
    UniqueFd conn;
    EventLoop::WatchId watch = 0;
  };

  FunctionHolderConfig config_;
  std::unique_ptr<IvshmemServer> server_;
  LinkStats host_stats_;  // local only: the BAR's stats area belongs to the firmware
  std::vector<UniqueFd> irq_requests_;
  std::vector<EventLoop::WatchId> irq_watches_;
  UniqueFd listen_;
  bool socket_bound_ = false;
  EventLoop* loop_ = nullptr;
  EventLoop::WatchId listen_watch_ = 0;
  std::map<uint64_t, Pending> pending_;  // by arrival order
  uint64_t next_token_ = 1;
  UniqueFd firmware_;  // the lease holder's connection
  EventLoop::WatchId firmware_watch_ = 0;
  uint32_t firmware_pid_ = 0;
  FunctionHolderCounters counters_;
  bool stopped_ = false;
};

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_FUNCTION_HOLDER_H_
