// HostStorage over an SstStore in this process: what wave-kv-host's storage server runs the
// NIC's calls on, and what tests use as the host side without a link.
//
// One worker thread runs the calls in the order they were made, so a Flush and then a Lookup
// of the same shard sees the flushed batch, and every callback runs on that thread (never
// inside Flush or Lookup). After a successful flush the worker compacts the shard if it holds
// more than Options::compact_above_tables tables (merging all of them into one: lookups then
// read one table per shard again). Stop, or the destructor, completes every call not yet run
// with ECANCELED; calls made after Stop complete the same way, on the worker, until the
// destructor joins it.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "kv/storage/host_storage.h"
#include "sst_store.h"

namespace wave::kv {

struct LocalHostStorageStats {
  uint64_t flushes = 0;  // Flush calls completed OK (resends included)
  uint64_t flush_errors = 0;
  uint64_t lookups = 0;
  uint64_t lookup_errors = 0;
  uint64_t recovers = 0;
  uint64_t cancelled = 0;  // calls completed with ECANCELED by Stop
  uint64_t compactions = 0;
  uint64_t compaction_errors = 0;
};

class LocalHostStorage final : public HostStorage {
 public:
  struct Options {
    size_t compact_above_tables = 8;  // compact a shard holding more tables than this
  };

  // Opens (or creates) the SSTable directory `dir` and starts the worker.
  static Result<std::unique_ptr<LocalHostStorage>> Open(const std::string& dir, Options options);
  static Result<std::unique_ptr<LocalHostStorage>> Open(const std::string& dir) {
    return Open(dir, Options{});
  }
  LocalHostStorage(std::unique_ptr<SstStore> store, Options options);
  ~LocalHostStorage() override;
  LocalHostStorage(const LocalHostStorage&) = delete;
  LocalHostStorage& operator=(const LocalHostStorage&) = delete;

  void Flush(std::vector<std::byte> batch, FlushDone done) override;
  void Lookup(uint32_t shard, std::string key, int64_t now_s, LookupDone done) override;
  // Waits for the calls made before it, then reads the store (ECANCELED once stopped).
  Result<ShardRecovery> Recover(uint32_t shard) override;

  // Completes every call not yet run, and every later one, with ECANCELED; the call running
  // now finishes first. Idempotent.
  void Stop();

  LocalHostStorageStats stats() const;
  SstStoreStats store_stats() const { return store_->stats(); }

 private:
  // A call waiting for the worker: run it, or fail it with the error (when stopped).
  struct Call {
    std::function<void()> run;
    std::function<void(const Error&)> fail;
  };
  void Post(Call call);
  void WorkerLoop();
  void RunFlush(std::span<const std::byte> batch, const FlushDone& done);
  void MaybeCompact(uint32_t shard);

  const Options options_;
  std::unique_ptr<SstStore> store_;

  mutable std::mutex mu_;
  std::condition_variable wake_;
  std::deque<Call> queue_;
  bool stopped_ = false;  // calls fail with ECANCELED
  bool exiting_ = false;  // the destructor: the worker ends once the queue is empty
  LocalHostStorageStats stats_;
  std::thread worker_;  // last: started once everything above exists
};

}  // namespace wave::kv
