// QEMU's side of the ivshmem-doorbell protocol, for tests: connects to the server, reads the
// greeting and later notifications, maps the shared memory, rings peers and waits for its
// own interrupts, as QEMU's ivshmem device does for a guest.
#ifndef WAVE_TOOLS_NIC_EMU_TESTS_IVSHMEM_TEST_CLIENT_H_
#define WAVE_TOOLS_NIC_EMU_TESTS_IVSHMEM_TEST_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "base/mapped_region.h"
#include "base/status.h"
#include "base/unique_fd.h"

namespace wave::nic::emu::testing {

class IvshmemTestClient {
 public:
  // A notification that arrived after the greeting.
  struct Notice {
    int64_t peer;
    bool connected;  // with an fd: connect; without: disconnect
  };

  Status Connect(const std::string& socket_path);
  // Reads messages until the interrupt setup has delivered `vectors` eventfds for us.
  Status Handshake(uint32_t vectors, std::chrono::milliseconds timeout);
  // Reads whatever notifications arrive within `timeout` (stops early once one arrived and
  // the socket stays quiet for 20 ms). Connect fds are added to peers().
  std::vector<Notice> ReadNotices(std::chrono::milliseconds timeout);

  // Rings `peer`'s vector as a guest's doorbell register write would.
  bool Ring(int64_t peer, uint32_t vector);
  // Waits for an interrupt on our own `vector`; returns the number of notifications folded
  // into it (0 on timeout).
  uint64_t WaitIrq(uint32_t vector, std::chrono::milliseconds timeout);
  // Reads and discards pending interrupts on every vector.
  void ClearIrqs();
  // True if the server closed the connection within `timeout`.
  bool WaitClosed(std::chrono::milliseconds timeout);

  int64_t version() const { return version_; }
  int64_t id() const { return id_; }
  std::span<std::byte> shm() const { return shm_.bytes(); }
  uint64_t shm_size() const { return shm_size_; }
  const std::map<int64_t, std::vector<UniqueFd>>& peers() const { return peers_; }
  size_t own_vectors() const { return own_.size(); }
  int socket() const { return sock_.get(); }
  void Close() { sock_.reset(); }

 private:
  Status Receive(int64_t* value, UniqueFd* fd, std::chrono::milliseconds timeout);

  UniqueFd sock_;
  int64_t version_ = -1;
  int64_t id_ = -1;
  UniqueFd shm_fd_;
  MappedRegion shm_;
  uint64_t shm_size_ = 0;
  std::map<int64_t, std::vector<UniqueFd>> peers_;
  std::vector<UniqueFd> own_;
};

}  // namespace wave::nic::emu::testing

#endif  // WAVE_TOOLS_NIC_EMU_TESTS_IVSHMEM_TEST_CLIENT_H_
