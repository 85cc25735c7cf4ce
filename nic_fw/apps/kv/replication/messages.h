// The messages of Viewstamped Replication Revisited (Liskov & Cowling 2012) and their binary
// codec. Wire format: a 12-byte header (magic u32 "WVR1", version u16, type u8, reserved u8,
// body length u32), then the body; integers are fixed-width little-endian, byte strings and
// entry lists carry a u32 length or count that is bounded and checked against what is left
// before anything is allocated. Decode() of untrusted bytes returns kBadMessage or kTooLarge,
// never crashes, and accepts no trailing bytes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "kv/replication/types.h"

namespace wave::kv::repl {

inline constexpr uint32_t kMagic = 0x31525657;  // "WVR1"
inline constexpr uint16_t kVersion = 2;  // 2: DoViewChange and StartView carry log suffixes
inline constexpr size_t kHeaderBytes = 12;

enum class MsgType : uint8_t {
  kPrepare = 1,
  kPrepareOk,
  kCommit,
  kStartViewChange,
  kDoViewChange,
  kStartView,
  kRecovery,
  kRecoveryResponse,
  kGetState,
  kNewState,
};
inline constexpr size_t kMsgTypeCount = 11;  // index 0 unused
const char* MsgTypeName(MsgType t);

// Primary -> backups: one new op (entry.view == view).
struct Prepare {
  uint64_t view = 0;
  uint64_t commit_number = 0;
  Entry entry;
};
// Backup -> primary: "my log holds the primary's ops 1..op_number, durably" (cumulative).
struct PrepareOk {
  uint64_t view = 0;
  uint64_t op_number = 0;
  uint32_t replica = 0;
};
// Primary -> backups when idle (the heartbeat).
struct Commit {
  uint64_t view = 0;
  uint64_t commit_number = 0;
};
struct StartViewChange {
  uint64_t view = 0;
  uint32_t replica = 0;
};
// To the new primary: the sender's log from its last normal view is ops 1..op_number; entries
// are the first of those after its commit number (commit_number+1 ..., bounded like a transfer:
// kMaxTransferEntries / kMaxTransferBytes). The committed prefix is the same on every replica;
// the new primary fetches what the entries leave out with GetState.
struct DoViewChange {
  uint64_t view = 0;
  uint64_t last_normal_view = 0;
  uint64_t op_number = 0;
  uint64_t commit_number = 0;
  uint32_t replica = 0;
  std::vector<Entry> entries;
};
// New primary -> all: the log of the new view is ops 1..op_number; entries are ops from_op+1 ...
// (bounded like a transfer), from_op being a point the recipient is believed to have committed.
// A recipient that cannot join there, or is left short of op_number, fetches with GetState.
struct StartView {
  uint64_t view = 0;
  uint64_t op_number = 0;
  uint64_t commit_number = 0;
  uint64_t from_op = 0;
  std::vector<Entry> entries;
};
// A restarted replica -> all. commit_number: where its own (durable) log is known good.
struct Recovery {
  uint32_t replica = 0;
  uint64_t nonce = 0;
  uint64_t commit_number = 0;
};
// Reply to Recovery; only the primary (is_primary) fills the log fields: entries are ops
// from_op+1 .. (at most kMaxTransferEntries of them), op_number its last op.
struct RecoveryResponse {
  uint64_t view = 0;
  uint64_t nonce = 0;
  uint32_t replica = 0;
  bool is_primary = false;
  uint64_t op_number = 0;
  uint64_t commit_number = 0;
  uint64_t from_op = 0;
  std::vector<Entry> entries;
};
// A replica that is behind -> a replica of view `view`: "send me the ops after op_number".
struct GetState {
  uint64_t view = 0;
  uint64_t op_number = 0;
  uint32_t replica = 0;
};
// Reply: ops from_op+1 .. from_op+entries.size(); op_number is the sender's last op.
struct NewState {
  uint64_t view = 0;
  uint64_t from_op = 0;
  uint64_t op_number = 0;
  uint64_t commit_number = 0;
  std::vector<Entry> entries;
};

using Message = std::variant<std::monostate, Prepare, PrepareOk, Commit, StartViewChange,
                             DoViewChange, StartView, Recovery, RecoveryResponse, GetState,
                             NewState>;

// The type of a message (variant index == MsgType value).
inline MsgType TypeOf(const Message& m) { return static_cast<MsgType>(m.index()); }

// Appends the encoding of `m` to `out`. kTooLarge if it would exceed kMaxMessageBytes or an
// op exceeds kMaxOpBytes (out is left as it was); kBadArgument for std::monostate.
Status Encode(const Message& m, std::vector<std::byte>& out);
std::vector<std::byte> Encode(const Message& m);  // empty on error

// Decodes one whole message. On error *out is left std::monostate.
Status Decode(std::span<const std::byte> bytes, Message* out);

}  // namespace wave::kv::repl
