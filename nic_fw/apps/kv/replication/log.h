// The replica's durable state: its log of entries (op numbers 1..last_op(), contiguous) and a
// little metadata. Mutations are visible to reads at once and become durable together at the
// next sync(): everything between two syncs is one atomic batch (a crash keeps all of it or
// none). MemoryLog keeps the durable image in memory (tests "crash" it with crash());
// FileLog keeps it in an append-only file.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kv/replication/types.h"

namespace wave::kv::repl {

struct Metadata {
  uint64_t view = 0;              // the highest view this replica has taken part in
  uint64_t last_normal_view = 0;  // the view its log is from (the last view it was normal in)
  uint64_t commit_number = 0;     // ops 1..commit_number are committed (and were applied)
  uint64_t incarnation = 0;       // how many times a Replica started on this log

  bool operator==(const Metadata&) const = default;
};

class Log {
 public:
  virtual ~Log() = default;

  uint64_t last_op() const { return entries_.size(); }
  // Entry `op_number`, or nullptr outside 1..last_op().
  const Entry* read(uint64_t op_number) const {
    return op_number == 0 || op_number > entries_.size() ? nullptr : &entries_[op_number - 1];
  }
  const Metadata& metadata() const { return meta_; }

  // entry.op_number must be last_op() + 1 (else kBadArgument); op bounded by kMaxOpBytes.
  Status append(Entry entry);
  // Drops the entries after op_number (none if op_number >= last_op()).
  Status truncate_after(uint64_t op_number);
  Status set_metadata(const Metadata& m);
  // Makes every mutation since the last sync durable, as one batch. No-op when clean.
  virtual Status sync() = 0;
  bool dirty() const { return !pending_.empty(); }
  uint64_t syncs() const { return syncs_; }

 protected:
  // One mutation, as the FileLog records it.
  struct Mutation {
    enum Kind : uint8_t { kAppend = 1, kTruncate = 2, kMeta = 3 } kind;
    Entry entry;            // kAppend
    uint64_t after_op = 0;  // kTruncate
    Metadata meta;          // kMeta
  };
  static void ApplyTo(const Mutation& m, std::vector<Entry>& entries, Metadata& meta);

  std::vector<Entry> entries_;
  Metadata meta_;
  std::vector<Mutation> pending_;
  uint64_t syncs_ = 0;
};

class MemoryLog final : public Log {
 public:
  Status sync() override;
  // A crash: the mutations since the last sync are lost.
  void crash();

 private:
  std::vector<Entry> durable_entries_;
  Metadata durable_meta_;
};

// The file: an 8-byte magic "WVRLOG01", then records: u32 payload length, u32 CRC32C (of the
// type, flags and payload), u8 type, u8 flags (bit 0: last record of a batch), u16 zero, the
// payload (append: view u64, op u64, op bytes; truncate: after_op u64; meta: 4 x u64). On
// open the records are replayed up to the last complete batch; a torn, corrupt or unfinished
// tail is cut off the file.
class FileLog final : public Log {
 public:
  // Opens (creating if absent) the log at `path`; *out is null unless kOk. kCorrupt if the
  // file is not a log; kIoError if the system refuses.
  static Status Open(const std::string& path, std::unique_ptr<FileLog>* out);
  ~FileLog() override;
  FileLog(const FileLog&) = delete;
  FileLog& operator=(const FileLog&) = delete;

  Status sync() override;  // one write() of the batch, then fdatasync()
  // What Open() cut off the end of the file (bytes), for tests and logs.
  uint64_t cut_bytes() const { return cut_bytes_; }

 private:
  explicit FileLog(int fd) : fd_(fd) {}
  Status Load();

  int fd_ = -1;
  uint64_t cut_bytes_ = 0;
};

uint32_t Crc32c(const std::byte* data, size_t len, uint32_t crc = 0);

}  // namespace wave::kv::repl
