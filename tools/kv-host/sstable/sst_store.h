// The host's SSTable store: one directory, per shard a list of tables, newest generation
// first. The host half of the key-value store's LSM path ingests each flush batch the NIC
// hands over as one table and answers the lookups the NIC's memtables miss.
//
// Files are named s<shard>-g<generation_lo>-<generation_hi>.sst; the footer, not the name, is
// trusted (a name that disagrees with its footer is refused as corrupt). Thread-safe: one
// mutex, because the host worker may look up while it ingests.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "sst_table.h"

namespace wave::kv {

struct SstStoreStats {
  uint64_t tables = 0;
  uint64_t entries = 0;
  uint64_t bytes = 0;  // file bytes of the tables
  uint64_t lookups = 0;
  uint64_t hits = 0;
  uint64_t ingested_batches = 0;
  uint64_t duplicate_batches = 0;  // a generation already held: acknowledged, not rewritten
  uint64_t refused_batches = 0;
  uint64_t refused_files = 0;  // corrupt or misnamed tables found by Open (left in place)
  uint64_t deleted_tmp_files = 0;
  uint64_t compactions = 0;
  uint64_t deleted_superseded_files = 0;  // left by a compaction that crashed, found by Open
  uint64_t replacing_batches = 0;         // ingested WAVE_KV_FLUSH_REPLACES_OLDER batches
  uint64_t deleted_replaced_files = 0;    // older tables a replacing table made dead
};

class SstStore {
 public:
  // Opens (creating it if missing) `dir` and loads every table: deletes *.tmp (a write that
  // crashed before its rename), refuses and counts a table that does not verify. Fails only
  // if the directory cannot be created or read.
  static Result<std::unique_ptr<SstStore>> Open(const std::string& dir);

  // Writes a validated batch as a table. Same shard and generation as a table held: success
  // without a write, so the NIC can resend a batch whose acknowledgement was lost (EEXIST if
  // the resent bytes differ). A generation older than the shard's newest is refused (ESTALE):
  // shards flush and are acknowledged in generation order, so a late older batch is a stale
  // sender's (a restarted NIC or deposed primary replaying), and the caller may already have
  // truncated its log past the newer table's ops.
  // A replacing batch (replaces_older) hides every older table of its shard as it is ingested
  // and deletes their files once its own table is durable; its footer records the flag so an
  // Open after a crash between the two drops what is left. Its table's op range is widened to
  // the ones it replaces (it stands for the shard's whole history; after a flush_all the NIC
  // may send a batch of no entries and no op), so max_op never goes backwards.
  Status Ingest(const DecodedFlushBatch& batch);
  // Decodes and validates untrusted bytes first (refusals counted).
  Status IngestBytes(std::span<const std::byte> batch);

  // The newest table holding the key decides: a tombstone or an expired entry (exptime != 0
  // and <= now_s, memcached's rule) is not found, and hides every older table's value.
  Result<std::optional<SstEntry>> Lookup(uint32_t shard, std::string_view key, int64_t now_s);

  // Merges the `count` (>= 2) oldest tables of the shard into one, newest value of each key
  // winning. Tombstones are dropped: the merge reaches down to the oldest table, so there is
  // nothing older left for them to hide. A replacing input's flag carries over to the merged
  // table and the entries of inputs older than it are dead. Crash-safe: the merged table is durable
  // before the old files go, and Open deletes a table whose generations another table covers.
  Status Compact(uint32_t shard, size_t count);

  // The highest replication op the shard's tables cover (0: none): the log up to it may go.
  uint64_t max_op(uint32_t shard) const;
  // The newest generation ingested for the shard (0: none).
  uint64_t newest_generation(uint32_t shard) const;
  // How many tables the shard has (what a compaction policy looks at).
  size_t table_count(uint32_t shard) const;
  SstStoreStats stats() const;
  const std::string& dir() const { return dir_; }

 private:
  explicit SstStore(std::string dir) : dir_(std::move(dir)) {}
  void Insert(std::unique_ptr<SstReader> table);  // keeps the shard's list newest first
  void Forget(const SstReader& table);            // its share of the stats
  void DropSuperseded();
  void DropReplaced();  // tables older than a replacing table of their shard
  void DeleteTable(const SstReader& table);
  std::string TablePath(uint32_t shard, uint64_t gen_lo, uint64_t gen_hi) const;

  std::string dir_;
  mutable std::mutex mu_;
  std::map<uint32_t, std::vector<std::unique_ptr<SstReader>>> shards_;
  SstStoreStats stats_;
};

}  // namespace wave::kv
