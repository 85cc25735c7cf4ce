// The emulated SmartNIC's transport: wave-nicd is the ivshmem server that QEMU's
// ivshmem-doorbell device connects to (QEMU's docs/specs/ivshmem-spec.rst).
//
// The NIC is peer 0. Its N eventfds are its doorbells: a guest write of (0 << 16) | v to the
// device's doorbell register makes QEMU write to the NIC's eventfd v. Every client (QEMU, or
// a test acting as QEMU) gets an id from 1 up and N eventfds of its own; the NIC interrupts
// the guest on MSI-X vector v by writing to the client's eventfd v. The server hands the
// eventfds out, so clients can also ring each other, as the spec requires.
#ifndef WAVE_TOOLS_NIC_EMU_IVSHMEM_SERVER_H_
#define WAVE_TOOLS_NIC_EMU_IVSHMEM_SERVER_H_

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "base/unique_fd.h"
#include "control_plane/transport.h"
#include "nic-emu/bar_file.h"

namespace wave::nic::emu {

struct IvshmemServerConfig {
  std::string socket_path;
  std::string shm_path;        // the BAR file
  bool shm_may_exist = false;  // reuse shm_path if it exists (--shm)
  uint64_t bar_size = 16ull << 20;
  uint32_t nr_vectors = 8;
  // Clients beyond this are refused: each one costs N eventfds and a slot in every greeting.
  uint32_t max_hosts = 16;
};

class IvshmemServer final : public Transport {
 public:
  // Creates (or reuses) and maps the BAR file and the NIC's doorbell eventfds, and checks that
  // the socket path is free (a stale socket left by a dead server is replaced).
  static Status Open(const IvshmemServerConfig& config, std::unique_ptr<IvshmemServer>* out);
  ~IvshmemServer() override;

  std::string_view name() const override { return "ivshmem"; }
  std::span<std::byte> bar() const override { return bar_.bytes(); }
  uint32_t nr_vectors() const override { return config_.nr_vectors; }
  uint32_t nic_peer_id() const override { return kNicPeerId; }
  BarInit bar_init() const override { return bar_.created() ? BarInit::kFresh : BarInit::kZero; }

  Status Start(EventLoop& loop, LinkStats& stats) override;
  int doorbell_fd(uint32_t vector) const override;
  // The emulated NIC has one host, but every connected client sees the interrupt: a second
  // client (a debugger, a test) observes what the guest gets.
  bool RaiseIrq(uint32_t vector) override;
  void Stop() override;

  const std::string& socket_path() const { return config_.socket_path; }
  const std::string& shm_path() const { return bar_.path(); }
  // The BAR file's descriptor, for the function holder to hand to its firmware.
  int bar_fd() const { return bar_.fd(); }
  size_t host_count() const { return peers_.size(); }

  static constexpr uint32_t kNicPeerId = 0;

 private:
  struct Peer {
    uint32_t id = 0;
    UniqueFd conn;
    std::vector<UniqueFd> vectors;  // it is interrupted through these
    EventLoop::WatchId watch = 0;
  };

  explicit IvshmemServer(const IvshmemServerConfig& config) : config_(config) {}

  void OnListenReady();
  void Accept(UniqueFd conn);
  void OnPeerReady(uint32_t id, uint32_t revents);
  // Sends the whole greeting (steps 1-5 of the spec) to a new peer.
  Status Greet(const Peer& peer);
  // Sends peer `about`'s N eventfds to `to` (a connect notification).
  static Status Announce(const Peer& to, uint32_t about_id, const std::vector<UniqueFd>& fds);
  // Closes a peer and tells the others it left. `error` counts it as a protocol error.
  void DropPeer(uint32_t id, bool error);
  bool AllocateId(uint32_t* id);

  IvshmemServerConfig config_;
  BarFile bar_;
  std::vector<UniqueFd> nic_doorbells_;  // peer 0's vectors: the host rings the NIC on these
  UniqueFd listen_;
  bool socket_bound_ = false;  // we created socket_path and must unlink it
  EventLoop* loop_ = nullptr;
  LinkStats* stats_ = nullptr;
  EventLoop::WatchId listen_watch_ = 0;
  // Changed only on the loop's thread, under peers_mu_; RaiseIrq (any thread) reads under it.
  std::map<uint32_t, std::unique_ptr<Peer>> peers_;
  std::mutex peers_mu_;
  uint32_t next_id_ = 1;
  bool stopped_ = false;
};

}  // namespace wave::nic::emu

#endif  // WAVE_TOOLS_NIC_EMU_IVSHMEM_SERVER_H_
