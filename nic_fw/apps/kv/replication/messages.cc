#include "kv/replication/messages.h"

#include <cstring>
#include <type_traits>

namespace wave::kv::repl {

const char* StatusName(Status s) {
  switch (s) {
    case Status::kOk: return "ok";
    case Status::kNotPrimary: return "not primary";
    case Status::kBadMessage: return "bad message";
    case Status::kTooLarge: return "too large";
    case Status::kBadArgument: return "bad argument";
    case Status::kIoError: return "i/o error";
    case Status::kCorrupt: return "corrupt";
    case Status::kFailed: return "failed";
  }
  return "?";
}

const char* MsgTypeName(MsgType t) {
  switch (t) {
    case MsgType::kPrepare: return "Prepare";
    case MsgType::kPrepareOk: return "PrepareOk";
    case MsgType::kCommit: return "Commit";
    case MsgType::kStartViewChange: return "StartViewChange";
    case MsgType::kDoViewChange: return "DoViewChange";
    case MsgType::kStartView: return "StartView";
    case MsgType::kRecovery: return "Recovery";
    case MsgType::kRecoveryResponse: return "RecoveryResponse";
    case MsgType::kGetState: return "GetState";
    case MsgType::kNewState: return "NewState";
  }
  return "?";
}

namespace {

class Writer {
 public:
  explicit Writer(std::vector<std::byte>& out) : out_(out) {}
  void u8(uint8_t v) { out_.push_back(static_cast<std::byte>(v)); }
  void u16(uint16_t v) { put(v, 2); }
  void u32(uint32_t v) { put(v, 4); }
  void u64(uint64_t v) { put(v, 8); }
  void bytes(std::span<const std::byte> b) {
    u32(static_cast<uint32_t>(b.size()));
    out_.insert(out_.end(), b.begin(), b.end());
  }
  void entry(const Entry& e) {
    u64(e.view);
    u64(e.op_number);
    bytes(e.op);
  }
  void entries(const std::vector<Entry>& es) {
    u32(static_cast<uint32_t>(es.size()));
    for (const Entry& e : es) entry(e);
  }

 private:
  void put(uint64_t v, int n) {
    for (int i = 0; i < n; ++i) out_.push_back(static_cast<std::byte>(v >> (8 * i)));
  }
  std::vector<std::byte>& out_;
};

class Reader {
 public:
  explicit Reader(std::span<const std::byte> in) : in_(in) {}
  bool ok() const { return ok_; }
  bool at_end() const { return pos_ == in_.size(); }
  Status error() const { return too_large_ ? Status::kTooLarge : Status::kBadMessage; }

  uint8_t u8() { return static_cast<uint8_t>(get(1)); }
  uint16_t u16() { return static_cast<uint16_t>(get(2)); }
  uint32_t u32() { return static_cast<uint32_t>(get(4)); }
  uint64_t u64() { return get(8); }
  bool boolean() {
    uint8_t v = u8();
    if (v > 1) ok_ = false;
    return v == 1;
  }
  void bytes(std::vector<std::byte>& out) {
    uint32_t n = u32();
    if (!ok_) return;
    if (n > kMaxOpBytes) {
      fail(true);
      return;
    }
    if (n > in_.size() - pos_) {
      fail(false);
      return;
    }
    out.assign(in_.begin() + pos_, in_.begin() + pos_ + n);
    pos_ += n;
  }
  void entry(Entry& e) {
    e.view = u64();
    e.op_number = u64();
    bytes(e.op);
  }
  void entries(std::vector<Entry>& out) {
    uint32_t n = u32();
    if (!ok_) return;
    // Each entry takes at least 20 bytes: a count larger than what is left is a lie.
    if (n > kMaxEntriesPerMessage) {
      fail(true);
      return;
    }
    if (n > (in_.size() - pos_) / 20) {
      fail(false);
      return;
    }
    out.resize(n);
    for (Entry& e : out) {
      entry(e);
      if (!ok_) return;
    }
  }

 private:
  uint64_t get(int n) {
    if (!ok_ || in_.size() - pos_ < static_cast<size_t>(n)) {
      fail(false);
      return 0;
    }
    uint64_t v = 0;
    for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(in_[pos_ + i]) << (8 * i);
    pos_ += n;
    return v;
  }
  void fail(bool too_large) {
    if (ok_) too_large_ = too_large;
    ok_ = false;
  }

  std::span<const std::byte> in_;
  size_t pos_ = 0;
  bool ok_ = true;
  bool too_large_ = false;
};

void Body(Writer& w, const Prepare& m) {
  w.u64(m.view);
  w.u64(m.commit_number);
  w.entry(m.entry);
}
void Body(Writer& w, const PrepareOk& m) {
  w.u64(m.view);
  w.u64(m.op_number);
  w.u32(m.replica);
}
void Body(Writer& w, const Commit& m) {
  w.u64(m.view);
  w.u64(m.commit_number);
}
void Body(Writer& w, const StartViewChange& m) {
  w.u64(m.view);
  w.u32(m.replica);
}
void Body(Writer& w, const DoViewChange& m) {
  w.u64(m.view);
  w.u64(m.last_normal_view);
  w.u64(m.op_number);
  w.u64(m.commit_number);
  w.u32(m.replica);
  w.entries(m.entries);
}
void Body(Writer& w, const StartView& m) {
  w.u64(m.view);
  w.u64(m.op_number);
  w.u64(m.commit_number);
  w.u64(m.from_op);
  w.entries(m.entries);
}
void Body(Writer& w, const Recovery& m) {
  w.u32(m.replica);
  w.u64(m.nonce);
  w.u64(m.commit_number);
}
void Body(Writer& w, const RecoveryResponse& m) {
  w.u64(m.view);
  w.u64(m.nonce);
  w.u32(m.replica);
  w.u8(m.is_primary ? 1 : 0);
  w.u64(m.op_number);
  w.u64(m.commit_number);
  w.u64(m.from_op);
  w.entries(m.entries);
}
void Body(Writer& w, const GetState& m) {
  w.u64(m.view);
  w.u64(m.op_number);
  w.u32(m.replica);
}
void Body(Writer& w, const NewState& m) {
  w.u64(m.view);
  w.u64(m.from_op);
  w.u64(m.op_number);
  w.u64(m.commit_number);
  w.entries(m.entries);
}

void Body(Reader& r, Prepare& m) {
  m.view = r.u64();
  m.commit_number = r.u64();
  r.entry(m.entry);
}
void Body(Reader& r, PrepareOk& m) {
  m.view = r.u64();
  m.op_number = r.u64();
  m.replica = r.u32();
}
void Body(Reader& r, Commit& m) {
  m.view = r.u64();
  m.commit_number = r.u64();
}
void Body(Reader& r, StartViewChange& m) {
  m.view = r.u64();
  m.replica = r.u32();
}
void Body(Reader& r, DoViewChange& m) {
  m.view = r.u64();
  m.last_normal_view = r.u64();
  m.op_number = r.u64();
  m.commit_number = r.u64();
  m.replica = r.u32();
  r.entries(m.entries);
}
void Body(Reader& r, StartView& m) {
  m.view = r.u64();
  m.op_number = r.u64();
  m.commit_number = r.u64();
  m.from_op = r.u64();
  r.entries(m.entries);
}
void Body(Reader& r, Recovery& m) {
  m.replica = r.u32();
  m.nonce = r.u64();
  m.commit_number = r.u64();
}
void Body(Reader& r, RecoveryResponse& m) {
  m.view = r.u64();
  m.nonce = r.u64();
  m.replica = r.u32();
  m.is_primary = r.boolean();
  m.op_number = r.u64();
  m.commit_number = r.u64();
  m.from_op = r.u64();
  r.entries(m.entries);
}
void Body(Reader& r, GetState& m) {
  m.view = r.u64();
  m.op_number = r.u64();
  m.replica = r.u32();
}
void Body(Reader& r, NewState& m) {
  m.view = r.u64();
  m.from_op = r.u64();
  m.op_number = r.u64();
  m.commit_number = r.u64();
  r.entries(m.entries);
}

bool OpsFit(const Entry& e) { return e.op.size() <= kMaxOpBytes; }
bool OpsFit(const std::vector<Entry>& es) {
  if (es.size() > kMaxEntriesPerMessage) return false;
  for (const Entry& e : es)
    if (!OpsFit(e)) return false;
  return true;
}

template <typename M>
bool Fits(const M& m) {
  if constexpr (std::is_same_v<M, Prepare>) return OpsFit(m.entry);
  if constexpr (requires { m.entries; }) return OpsFit(m.entries);
  return true;
}

// A decoded message whose fields contradict each other is as bad as a malformed one.
bool Consistent(const Message& m) {
  if (const auto* p = std::get_if<Prepare>(&m))
    return p->entry.view == p->view && p->entry.op_number > 0;
  return true;
}

}  // namespace

Status Encode(const Message& m, std::vector<std::byte>& out) {
  if (m.index() == 0) return Status::kBadArgument;
  size_t start = out.size();
  Status st = std::visit(
      [&](const auto& msg) -> Status {
        using M = std::decay_t<decltype(msg)>;
        if constexpr (std::is_same_v<M, std::monostate>) {
          return Status::kBadArgument;
        } else {
          if (!Fits(msg)) return Status::kTooLarge;
          Writer w(out);
          w.u32(kMagic);
          w.u16(kVersion);
          w.u8(static_cast<uint8_t>(m.index()));
          w.u8(0);
          w.u32(0);  // body length, patched below
          Body(w, msg);
          return Status::kOk;
        }
      },
      m);
  if (st != Status::kOk) return st;
  size_t body = out.size() - start - kHeaderBytes;
  if (out.size() - start > kMaxMessageBytes) {
    out.resize(start);
    return Status::kTooLarge;
  }
  for (int i = 0; i < 4; ++i) out[start + 8 + i] = static_cast<std::byte>(body >> (8 * i));
  return Status::kOk;
}

std::vector<std::byte> Encode(const Message& m) {
  std::vector<std::byte> out;
  if (Encode(m, out) != Status::kOk) out.clear();
  return out;
}

Status Decode(std::span<const std::byte> bytes, Message* out) {
  *out = std::monostate{};
  if (bytes.size() > kMaxMessageBytes) return Status::kTooLarge;
  Reader h(bytes);
  uint32_t magic = h.u32();
  uint16_t version = h.u16();
  uint8_t type = h.u8();
  uint8_t reserved = h.u8();
  uint32_t body_len = h.u32();
  if (!h.ok() || magic != kMagic || version != kVersion || reserved != 0 || type == 0 ||
      type >= kMsgTypeCount || body_len != bytes.size() - kHeaderBytes)
    return Status::kBadMessage;
  Reader r(bytes.subspan(kHeaderBytes));
  Message m;
  // Build the alternative named by `type` (variant index == MsgType value).
  auto decode_as = [&](auto tag) {
    using M = decltype(tag);
    M msg;
    Body(r, msg);
    m = std::move(msg);
  };
  switch (static_cast<MsgType>(type)) {
    case MsgType::kPrepare: decode_as(Prepare{}); break;
    case MsgType::kPrepareOk: decode_as(PrepareOk{}); break;
    case MsgType::kCommit: decode_as(Commit{}); break;
    case MsgType::kStartViewChange: decode_as(StartViewChange{}); break;
    case MsgType::kDoViewChange: decode_as(DoViewChange{}); break;
    case MsgType::kStartView: decode_as(StartView{}); break;
    case MsgType::kRecovery: decode_as(Recovery{}); break;
    case MsgType::kRecoveryResponse: decode_as(RecoveryResponse{}); break;
    case MsgType::kGetState: decode_as(GetState{}); break;
    case MsgType::kNewState: decode_as(NewState{}); break;
  }
  if (!r.ok()) return r.error();
  if (!r.at_end() || !Consistent(m)) return Status::kBadMessage;
  *out = std::move(m);
  return Status::kOk;
}

}  // namespace wave::kv::repl
