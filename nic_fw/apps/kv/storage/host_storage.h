// The key-value store's host storage as the NIC sees it: where frozen memtable batches go
// (SSTables on the host, tools/kv-host/sstable) and where a memtable's miss is looked up.
//
// Two implementations: LocalHostStorage (tools/kv-host/storage) runs the SstStore in the same
// process, for the host side and for tests; the NIC's client (storage/remote_host_storage.h)
// carries the same calls over the link to wave-kv-host. Every call is non-blocking except
// Recover, and each callback runs exactly once, on a thread of the storage (never inside the
// call that started it), so a caller may post to the runtime from it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "wave/result.h"

namespace wave::kv {

// A value the host holds for a key (a tombstone or an expired entry is reported as absent).
struct StoredValue {
  std::string value;
  uint32_t flags = 0;
  uint64_t exptime = 0;  // absolute Unix seconds, 0: never
  uint64_t cas = 0;
};

// What the host holds for a shard when the store starts.
struct ShardRecovery {
  uint64_t newest_generation = 0;  // 0: nothing flushed yet
  uint64_t max_op = 0;             // the highest replication op its tables cover (0: none)
};

class HostStorage {
 public:
  using FlushDone = std::function<void(Status)>;
  using LookupDone = std::function<void(Result<std::optional<StoredValue>>)>;

  virtual ~HostStorage() = default;
  // Hands one encoded flush batch (uapi/wave_kv_flush.h) to the host; `done` gets OK once the
  // host holds it durably (a resent batch the host already has is OK too), or the error.
  virtual void Flush(std::vector<std::byte> batch, FlushDone done) = 0;
  // Looks `key` up in the shard's tables as of `now_s` (expiry); absent is not an error.
  virtual void Lookup(uint32_t shard, std::string key, int64_t now_s, LookupDone done) = 0;
  // What the host holds for `shard` (blocking; at start, before clients).
  virtual Result<ShardRecovery> Recover(uint32_t shard) = 0;
};

}  // namespace wave::kv
