// The few types every part of the replication library shares: the result code and one entry of
// the replicated log.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace wave::kv::repl {

enum class Status : uint8_t {
  kOk = 0,
  kNotPrimary,   // submit() on a replica that is not the primary of a normal view
  kBadMessage,   // bytes that are not a well-formed message (magic, version, lengths, fields)
  kTooLarge,     // an op or a message over its bound
  kBadArgument,  // a log call that breaks the log's rules (a gap in op numbers, ...)
  kIoError,      // the file behind a FileLog failed (the replica stops: fail-stop)
  kCorrupt,      // a FileLog whose header is not ours
  kFailed,       // the replica stopped after an earlier kIoError
};

const char* StatusName(Status s);

// One operation in the log. op_number starts at 1 and is contiguous; view is the view in which
// the primary assigned the op number (it stays with the entry through view changes, so
// (view, op_number) names one entry: a primary never assigns a number twice in its view).
struct Entry {
  uint64_t view = 0;
  uint64_t op_number = 0;
  std::vector<std::byte> op;

  bool operator==(const Entry&) const = default;
};

// Bounds every decoder and the log check.
inline constexpr uint32_t kMaxOpBytes = 1u << 20;             // one client write
inline constexpr uint32_t kMaxMessageBytes = 64u << 20;       // one encoded message
inline constexpr uint32_t kMaxEntriesPerMessage = 1u << 20;   // a whole log in DoViewChange
inline constexpr uint32_t kMaxTransferEntries = 1024;         // NewState / RecoveryResponse
inline constexpr uint32_t kMaxTransferBytes = 4u << 20;       // ... and their op bytes
inline constexpr uint32_t kMaxReplicas = 15;

}  // namespace wave::kv::repl
