// Framed messages between NIC instances (the replicas of a replicated store): each instance
// listens on its own peer address (a NetPort, so incoming traffic is io_uring driven like
// clients') and keeps one outgoing connection to every other instance, reconnecting as they
// come and go. Delivery is best effort: a frame for an unreachable peer, or beyond its queue
// bound, is dropped and counted (the replication protocol above retransmits).
//
// Frame: magic u32 | sender index u32 | payload length u32 | payload (little-endian). A peer
// that sends anything else is disconnected.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace wave::rpc {

struct PeerMeshConfig {
  uint32_t self = 0;
  std::vector<std::string> peers;  // ADDR:PORT of every instance, by index (self included)
  size_t max_frame_bytes = 64 << 20;
  size_t max_queued_bytes = 128 << 20;  // per outgoing peer
};

struct PeerMeshStats {
  uint64_t frames_in = 0;
  uint64_t frames_out = 0;
  uint64_t bad_frames = 0;  // refused input (its connection closed)
  uint64_t dropped = 0;     // frames not sent: peer unreachable or queue full
  uint64_t connects = 0;    // outgoing connections established
};

class PeerMesh {
 public:
  // Called on the mesh's receive thread, one frame at a time.
  using Receive = std::function<void(uint32_t from, std::string payload)>;

  static std::unique_ptr<PeerMesh> Start(const PeerMeshConfig& cfg, Receive receive,
                                         nic::Status* status);
  ~PeerMesh();
  PeerMesh(const PeerMesh&) = delete;
  PeerMesh& operator=(const PeerMesh&) = delete;

  // Any thread.
  void Send(uint32_t to, std::string_view payload);
  bool Connected(uint32_t to) const;
  PeerMeshStats stats() const;

  // ADDR:PORT -> address and port; false if malformed.
  static bool SplitEndpoint(const std::string& endpoint, std::string* addr, int* port);

 private:
  class Impl;
  explicit PeerMesh(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wave::rpc
