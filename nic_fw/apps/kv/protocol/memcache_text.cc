#include "kv/protocol/memcache_text.h"

#include <charconv>

namespace wave::kv {
namespace {

constexpr char kError[] = "ERROR\r\n";
constexpr char kBadFormat[] = "CLIENT_ERROR bad command line format\r\n";
constexpr char kBadChunk[] = "CLIENT_ERROR bad data chunk\r\n";
constexpr char kTooLarge[] = "SERVER_ERROR object too large for cache\r\n";
constexpr char kLineTooLong[] = "CLIENT_ERROR line too long\r\n";
constexpr char kBadDelta[] = "CLIENT_ERROR invalid numeric delta argument\r\n";
constexpr char kBadExptime[] = "CLIENT_ERROR invalid exptime argument\r\n";
constexpr char kBadDelete[] =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]\r\n";

template <typename T>
bool Number(std::string_view s, T* out) {
  if (s.empty() || s.front() == '+')
    return false;
  auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
  return ec == std::errc() && p == s.data() + s.size();
}

std::vector<std::string_view> Tokens(std::string_view line) {
  std::vector<std::string_view> t;
  size_t i = 0;
  while (i < line.size()) {
    while (i < line.size() && line[i] == ' ')
      ++i;
    size_t start = i;
    while (i < line.size() && line[i] != ' ')
      ++i;
    if (i > start)
      t.push_back(line.substr(start, i - start));
  }
  return t;
}

bool ValidKey(std::string_view key, const ParseLimits& limits) {
  if (key.empty() || key.size() > limits.max_key)
    return false;
  for (char c : key) {
    // Control characters would break the reply lines that echo the key.
    if (static_cast<unsigned char>(c) < 0x21 || c == 0x7f)
      return false;
  }
  return true;
}

ParseResult Refuse(size_t consumed, const char* reply, bool close = false) {
  ParseResult r;
  r.status = ParseStatus::kError;
  r.consumed = consumed;
  r.error_reply = reply;
  r.close_connection = close;
  return r;
}

ParseResult Accept(size_t consumed) {
  ParseResult r;
  r.status = ParseStatus::kRequest;
  r.consumed = consumed;
  return r;
}

// Takes a trailing "noreply" off the tokens.
bool TakeNoreply(std::vector<std::string_view>* t) {
  if (t->size() > 1 && t->back() == "noreply") {
    t->pop_back();
    return true;
  }
  return false;
}

bool StorageOp(std::string_view cmd, Op* op) {
  if (cmd == "set")
    *op = Op::kSet;
  else if (cmd == "add")
    *op = Op::kAdd;
  else if (cmd == "replace")
    *op = Op::kReplace;
  else if (cmd == "append")
    *op = Op::kAppend;
  else if (cmd == "prepend")
    *op = Op::kPrepend;
  else if (cmd == "cas")
    *op = Op::kCas;
  else
    return false;
  return true;
}

ParseResult ParseStorage(std::string_view in, size_t line_len, std::vector<std::string_view> t,
                         Op op, const ParseLimits& limits, Request* out) {
  out->noreply = TakeNoreply(&t);
  const size_t want = op == Op::kCas ? 6 : 5;
  int64_t bytes = -1;
  if (t.size() != want || !Number(t[4], &bytes) || bytes < 0)
    return Refuse(line_len, kBadFormat);
  if (!ValidKey(t[1], limits) || !Number(t[2], &out->flags) || !Number(t[3], &out->exptime) ||
      (op == Op::kCas && !Number(t[5], &out->cas_unique))) {
    // memcached skips the data block of a refused line too, so it is not taken for commands.
    ParseResult r = Refuse(line_len, kBadFormat);
    const size_t block = static_cast<size_t>(bytes) + 2;
    const size_t here = std::min(block, in.size() - line_len);
    r.consumed += here;
    r.swallow = block - here;
    return r;
  }
  const size_t block = static_cast<size_t>(bytes) + 2;
  if (static_cast<size_t>(bytes) > limits.max_value) {
    ParseResult r = Refuse(line_len, kTooLarge);
    const size_t here = std::min(block, in.size() - line_len);
    r.consumed += here;
    r.swallow = block - here;
    if (op == Op::kSet) {
      // Still a request: the old value goes, and the client hears the refusal.
      r.status = ParseStatus::kRequest;
      out->op = Op::kDelete;
      out->keys.assign(1, std::string(t[1]));
      out->fixed_reply = out->noreply ? std::string() : std::string(kTooLarge);
      r.error_reply.clear();
    }
    return r;
  }
  if (in.size() - line_len < block)
    return ParseResult{};
  std::string_view data = in.substr(line_len, block);
  if (data.substr(block - 2) != "\r\n")
    return Refuse(line_len + block, kBadChunk);
  out->op = op;
  out->keys.assign(1, std::string(t[1]));
  out->value.assign(data.substr(0, block - 2));
  return Accept(line_len + block);
}

ParseResult ParseLine(std::string_view in, size_t line_len, std::string_view line,
                      std::vector<std::string_view> t, const ParseLimits& limits, Request* out);

}  // namespace

ParseResult ParseRequest(std::string_view in, const ParseLimits& limits, Request* out) {
  *out = Request{};
  // Retrieval lines may carry many keys; every other command line is short.
  const bool retrieval = in.starts_with("get") || in.starts_with("gat");
  const size_t bound = retrieval ? limits.max_line + limits.max_keys_per_get * (limits.max_key + 1)
                                 : limits.max_line;
  const size_t nl = in.substr(0, bound + 1).find('\n');
  if (nl == std::string_view::npos) {
    if (in.size() > bound)
      return Refuse(in.size(), kLineTooLong, true);
    return ParseResult{};
  }
  const size_t line_len = nl + 1;
  std::string_view line = in.substr(0, nl);
  if (!line.empty() && line.back() == '\r')
    line.remove_suffix(1);
  std::vector<std::string_view> t = Tokens(line);
  if (t.empty())
    return Refuse(line_len, kError);
  // A line that ends in noreply gets no reply, not even an error (memcached's rule).
  const bool noreply = t.size() > 1 && t.back() == "noreply";
  ParseResult r = ParseLine(in, line_len, line, std::move(t), limits, out);
  if (r.status == ParseStatus::kError && noreply)
    r.error_reply.clear();
  return r;
}

namespace {

ParseResult ParseLine(std::string_view in, size_t line_len, std::string_view line,
                      std::vector<std::string_view> t, const ParseLimits& limits, Request* out) {
  const std::string_view cmd = t[0];

  if (cmd == "get" || cmd == "gets" || cmd == "gat" || cmd == "gats") {
    const bool touch = cmd[1] == 'a';
    size_t first = touch ? 2 : 1;
    if (t.size() <= first || t.size() - first > limits.max_keys_per_get)
      return Refuse(line_len, t.size() <= first ? kError : kBadFormat);
    if (touch && !Number(t[1], &out->exptime))
      return Refuse(line_len, kBadExptime);
    for (size_t i = first; i < t.size(); ++i) {
      if (!ValidKey(t[i], limits))
        return Refuse(line_len, kBadFormat);
      out->keys.emplace_back(t[i]);
    }
    out->op = cmd == "get"    ? Op::kGet
              : cmd == "gets" ? Op::kGets
              : cmd == "gat"  ? Op::kGat
                              : Op::kGats;
    return Accept(line_len);
  }
  Op op;
  if (StorageOp(cmd, &op))
    return ParseStorage(in, line_len, std::move(t), op, limits, out);

  if (cmd == "delete") {
    out->noreply = TakeNoreply(&t);
    // memcached still accepts the old "delete KEY 0" (a zero hold time) form.
    if (t.size() == 3 && t[2] == "0")
      t.pop_back();
    if (t.size() != 2)
      return Refuse(line_len, kBadDelete);
    if (!ValidKey(t[1], limits))
      return Refuse(line_len, kBadFormat);
    out->op = Op::kDelete;
    out->keys.assign(1, std::string(t[1]));
    return Accept(line_len);
  }
  if (cmd == "incr" || cmd == "decr") {
    out->noreply = TakeNoreply(&t);
    if (t.size() != 3 || !ValidKey(t[1], limits))
      return Refuse(line_len, kBadFormat);
    if (!Number(t[2], &out->delta))
      return Refuse(line_len, kBadDelta);
    out->op = cmd == "incr" ? Op::kIncr : Op::kDecr;
    out->keys.assign(1, std::string(t[1]));
    return Accept(line_len);
  }
  if (cmd == "touch") {
    out->noreply = TakeNoreply(&t);
    if (t.size() != 3 || !ValidKey(t[1], limits))
      return Refuse(line_len, kBadFormat);
    if (!Number(t[2], &out->exptime))
      return Refuse(line_len, kBadExptime);
    out->op = Op::kTouch;
    out->keys.assign(1, std::string(t[1]));
    return Accept(line_len);
  }
  if (cmd == "flush_all") {
    out->noreply = TakeNoreply(&t);
    if (t.size() > 2)
      return Refuse(line_len, kBadFormat);
    if (t.size() == 2) {
      if (!Number(t[1], &out->flush_delay) || out->flush_delay < 0)
        return Refuse(line_len, kBadFormat);
      out->has_flush_delay = true;
    }
    out->op = Op::kFlushAll;
    return Accept(line_len);
  }
  if (cmd == "verbosity") {
    out->noreply = TakeNoreply(&t);
    // "verbosity noreply" is taken silently, as memcached does; a missing level is an error.
    if (t.size() != 2 && !(out->noreply && t.size() == 1))
      return Refuse(line_len, kError);
    if (t.size() == 2 && !Number(t[1], &out->verbosity))
      return Refuse(line_len, kBadFormat);
    out->op = Op::kVerbosity;
    return Accept(line_len);
  }
  if (cmd == "stats") {
    out->op = Op::kStats;
    if (t.size() > 1) {
      const size_t start = static_cast<size_t>(t[1].data() - line.data());
      out->stats_arg.assign(line.substr(start));
    }
    return Accept(line_len);
  }
  if (cmd == "version") {  // memcached ignores anything after it
    out->op = Op::kVersion;
    return Accept(line_len);
  }
  if (cmd == "quit" && t.size() == 1) {
    out->op = Op::kQuit;
    return Accept(line_len);
  }
  return Refuse(line_len, kError);
}

}  // namespace

void AppendValue(std::string* out, std::string_view key, uint32_t flags, std::string_view data,
                 const uint64_t* cas) {
  out->append("VALUE ");
  out->append(key);
  out->push_back(' ');
  out->append(std::to_string(flags));
  out->push_back(' ');
  out->append(std::to_string(data.size()));
  if (cas != nullptr) {
    out->push_back(' ');
    out->append(std::to_string(*cas));
  }
  out->append("\r\n");
  out->append(data);
  out->append("\r\n");
}

void AppendLine(std::string* out, std::string_view line) {
  out->append(line);
  out->append("\r\n");
}

void AppendStat(std::string* out, std::string_view name, std::string_view value) {
  out->append("STAT ");
  out->append(name);
  out->push_back(' ');
  out->append(value);
  out->append("\r\n");
}

}  // namespace wave::kv
