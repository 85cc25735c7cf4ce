// memcached's text protocol (as memcached 1.6 speaks it): requests parsed from the front of a
// connection's byte stream, and the reply lines. Parsing is stateless and bounded: a request is
// returned only once all of it (line and data block) is in the buffer, and every refusal comes
// with the exact error reply memcached sends, so real clients stay in step.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace wave::kv {

enum class Op : uint8_t {
  kGet,
  kGets,
  kGat,
  kGats,
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  kDelete,
  kIncr,
  kDecr,
  kTouch,
  kFlushAll,
  kVersion,
  kStats,
  kVerbosity,
  kQuit
};

struct Request {
  Op op = Op::kGet;
  std::vector<std::string> keys;  // retrievals: 1..N keys; the other keyed commands: 1
  uint32_t flags = 0;
  int64_t exptime = 0;  // as sent: relative seconds, absolute Unix time, or negative
  uint64_t cas_unique = 0;
  uint64_t delta = 0;
  int64_t flush_delay = 0;
  bool has_flush_delay = false;
  uint32_t verbosity = 0;
  std::string stats_arg;  // "stats ARG..." (the rest of the line), empty for plain stats
  std::string value;      // storage commands: the data block without its \r\n
  bool noreply = false;
  // Sent as the reply whatever the shards answer: a set refused as too large still deletes
  // the key's old value (memcached does, so a failed set never leaves stale data), and the
  // client gets the refusal.
  std::optional<std::string> fixed_reply;
};

struct ParseLimits {
  size_t max_key = 250;
  size_t max_value = 1 << 20;
  size_t max_line = 2048;
  size_t max_keys_per_get = 1024;
};

enum class ParseStatus : uint8_t { kNeedMore, kRequest, kError };

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;            // bytes of the input used by the request or the refused input
  std::string error_reply;        // kError: the reply to send
  bool close_connection = false;  // kError: the stream cannot be resynchronised
  // kError for a too-large value: bytes of its data block still to arrive, which the caller
  // must discard before parsing again (memcached swallows them too).
  size_t swallow = 0;
  // kRequest with Request::fixed_reply set instead of kError: the refused set's key to drop.
};

// Parses at most one request from the front of `in`. On kNeedMore nothing is consumed: call
// again with more bytes appended.
ParseResult ParseRequest(std::string_view in, const ParseLimits& limits, Request* out);

// Replies, appended to `out`.
void AppendValue(std::string* out, std::string_view key, uint32_t flags, std::string_view data,
                 const uint64_t* cas);  // "VALUE key flags bytes [cas]\r\n" data "\r\n"
void AppendLine(std::string* out, std::string_view line);  // line "\r\n"
void AppendStat(std::string* out, std::string_view name, std::string_view value);

}  // namespace wave::kv
