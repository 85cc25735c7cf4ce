// The NIC's client of the host storage: HostStorage over the storage link to wave-kv-host
// (storage_wire.h). One I/O thread owns the link: it sends the calls (a flush batch in bounded
// chunks), matches replies by request id, runs the callbacks, expires calls after
// Options::call_timeout with ETIMEDOUT, and watches the host's heartbeat.
//
// When the link breaks or the heartbeat stops (wave-kv-host died), every pending call
// completes with ECONNRESET and new calls fail fast with ENOTCONN until the connector yields a
// new link (a new wave-kv-host recreated the link file), tried with backoff. Replies are
// untrusted: a malformed one is counted and completes its call with EPROTO; one for no pending
// call is counted and dropped.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kv/storage/host_storage.h"
#include "kv/storage/storage_wire.h"
#include "runtime/migration/shm_link.h"

namespace wave::kv {

struct RemoteHostStorageStats {
  uint64_t calls = 0;
  uint64_t replies = 0;
  uint64_t timeouts = 0;
  uint64_t failed_not_connected = 0;
  uint64_t failed_disconnected = 0;  // pending when the link went
  uint64_t bad_replies = 0;          // malformed reply frames
  uint64_t stale_replies = 0;        // for a call no longer pending (timed out), dropped
  uint64_t connects = 0;
  uint64_t disconnects = 0;
};

class RemoteHostStorage final : public HostStorage {
 public:
  // Yields a new link to a host (null: none yet). Never the same link file twice.
  using Connector = std::function<std::unique_ptr<rt::mig::LinkEnd>()>;
  struct Options {
    std::chrono::milliseconds call_timeout{2000};
    std::chrono::milliseconds host_silence{1000};  // no frame for this long: the host is gone
    std::chrono::milliseconds max_backoff{500};    // between connection attempts
  };

  RemoteHostStorage(Connector connect, Options options);
  explicit RemoteHostStorage(Connector connect) : RemoteHostStorage(std::move(connect), {}) {}
  // Connects to the link file wave-kv-host creates at `path` (--storage-link), and to every
  // new file a restarted wave-kv-host creates there (told apart by inode).
  static Connector PathConnector(std::string path);
  ~RemoteHostStorage() override;  // pending calls complete with ECANCELED
  RemoteHostStorage(const RemoteHostStorage&) = delete;
  RemoteHostStorage& operator=(const RemoteHostStorage&) = delete;

  void Flush(std::vector<std::byte> batch, FlushDone done) override;
  void Lookup(uint32_t shard, std::string key, int64_t now_s, LookupDone done) override;
  Result<ShardRecovery> Recover(uint32_t shard) override;

  bool connected() const { return connected_; }
  // Waits up to `timeout` for a link (for a starting NIC and for tests).
  bool WaitConnected(std::chrono::milliseconds timeout) const;
  RemoteHostStorageStats stats() const;

 private:
  struct Call;   // a call as made, before the I/O thread takes it
  struct Frame;  // one request frame to send
  struct Pending {
    StorageOp op;
    std::chrono::steady_clock::time_point deadline;
    std::function<void(Result<std::vector<std::byte>>)> done;  // the reply payload
    std::vector<std::byte> reply;                              // assembled so far
    size_t reply_limit;
  };
  void Submit(StorageOp op, uint64_t arg1, std::vector<std::byte> payload,
              std::shared_ptr<std::vector<std::byte>> batch,
              std::function<void(Result<std::vector<std::byte>>)> done, size_t reply_limit);
  void Loop();
  void TakeCalls();
  bool SendFrames();
  void Receive();
  void HandleReply(const rt::mig::FrameHeader& h, std::span<const std::byte> payload);
  void ExpireCalls();
  void Disconnect(const char* why);

  const Connector connect_;
  const Options options_;

  mutable std::mutex mu_;
  mutable std::condition_variable wake_;
  std::deque<std::unique_ptr<Call>> incoming_;
  RemoteHostStorageStats stats_;
  bool stop_ = false;
  std::atomic<bool> connected_{false};

  // The I/O thread's alone.
  std::unique_ptr<rt::mig::LinkEnd> end_;
  std::map<uint64_t, Pending> pending_;
  std::deque<std::unique_ptr<Frame>> sending_;
  uint64_t next_id_ = 1;
  std::chrono::steady_clock::time_point last_heard_;
  std::thread thread_;  // last
};

}  // namespace wave::kv
