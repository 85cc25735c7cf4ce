// The host's end of the storage link (kv/storage/storage_wire.h): wave-kv-host serves the
// NIC's RemoteHostStorage with a LocalHostStorage. One thread polls the ring (short sleeps,
// longer when idle, like the host runtime) and sends the replies the storage's callbacks
// queue, and a heartbeat every kHeartbeatMs so the client can tell that the host lives.
// Every frame is untrusted: a malformed request is counted and answered with an error (or
// dropped when it cannot be answered); a broken ring stops the serving.
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

#include "kv/storage/storage_wire.h"
#include "local_host_storage.h"
#include "runtime/migration/shm_link.h"

namespace wave::kv {

struct StorageServerStats {
  uint64_t requests = 0;
  uint64_t flushes = 0;
  uint64_t lookups = 0;
  uint64_t recovers = 0;
  uint64_t bad_frames = 0;  // malformed requests, counted and refused
  uint64_t replies = 0;
  bool broken = false;  // the ring caught the client writing something impossible
};

class StorageServer {
 public:
  StorageServer(std::unique_ptr<rt::mig::LinkEnd> host_end, LocalHostStorage& storage);
  ~StorageServer();  // Stop()
  StorageServer(const StorageServer&) = delete;
  StorageServer& operator=(const StorageServer&) = delete;

  void Start();
  // Stops polling; replies the storage produces afterwards are dropped (the client times
  // them out or sees the heartbeat stop). Idempotent.
  void Stop();
  StorageServerStats stats() const;

 private:
  struct Reply {
    StorageOp op;
    uint64_t id;
    uint32_t status;
    std::vector<std::byte> payload;  // sent in frames of at most kStorageChunk bytes
    size_t sent = 0;                 // payload bytes already sent (a full ring stops midway)
  };
  // Shared with the storage's callbacks, which may run after the server is gone.
  struct Outbox {
    std::mutex mu;
    std::deque<Reply> replies;
    void Push(Reply r) {
      std::lock_guard lock(mu);
      replies.push_back(std::move(r));
    }
  };
  struct Assembly {  // a batch arriving in chunks
    uint64_t total = 0;
    std::vector<std::byte> bytes;
  };
  void Loop();
  void Handle(const rt::mig::FrameHeader& h, std::span<const std::byte> payload);
  void HandleChunk(uint64_t id, uint64_t offset, std::span<const std::byte> payload);
  void HandleLookup(uint64_t id, uint64_t shard, std::span<const std::byte> payload);
  void Queue(Reply r);
  void Refuse(StorageOp op, uint64_t id, int code);
  bool SendQueued();  // false while the ring is full

  std::unique_ptr<rt::mig::LinkEnd> end_;
  LocalHostStorage& storage_;
  std::map<uint64_t, Assembly> assembling_;  // by request id; Loop's thread only

  std::shared_ptr<Outbox> outbox_ = std::make_shared<Outbox>();
  mutable std::mutex mu_;  // stats_
  StorageServerStats stats_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

}  // namespace wave::kv
