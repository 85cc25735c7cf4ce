#include "kv/replication/log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace wave::kv::repl {

// ---- Log: the in-memory image every implementation shares ----

void Log::ApplyTo(const Mutation& m, std::vector<Entry>& entries, Metadata& meta) {
  switch (m.kind) {
    case Mutation::kAppend: entries.push_back(m.entry); break;
    case Mutation::kTruncate:
      if (m.after_op < entries.size()) entries.resize(m.after_op);
      break;
    case Mutation::kMeta: meta = m.meta; break;
  }
}

Status Log::append(Entry entry) {
  if (entry.op_number != last_op() + 1) return Status::kBadArgument;
  if (entry.op.size() > kMaxOpBytes) return Status::kTooLarge;
  Mutation m{.kind = Mutation::kAppend, .entry = std::move(entry)};
  entries_.push_back(m.entry);
  pending_.push_back(std::move(m));
  return Status::kOk;
}

Status Log::truncate_after(uint64_t op_number) {
  if (op_number >= last_op()) return Status::kOk;
  entries_.resize(op_number);
  pending_.push_back(Mutation{.kind = Mutation::kTruncate, .after_op = op_number});
  return Status::kOk;
}

Status Log::set_metadata(const Metadata& m) {
  if (m == meta_) return Status::kOk;
  meta_ = m;
  pending_.push_back(Mutation{.kind = Mutation::kMeta, .meta = m});
  return Status::kOk;
}

// ---- MemoryLog ----

Status MemoryLog::sync() {
  if (pending_.empty()) return Status::kOk;
  for (const Mutation& m : pending_) ApplyTo(m, durable_entries_, durable_meta_);
  pending_.clear();
  ++syncs_;
  return Status::kOk;
}

void MemoryLog::crash() {
  pending_.clear();
  entries_ = durable_entries_;
  meta_ = durable_meta_;
}

// ---- CRC32C (Castagnoli, reflected 0x82F63B78) ----

namespace {

constexpr std::array<uint32_t, 256> MakeCrcTable() {
  std::array<uint32_t, 256> t{};
  for (uint32_t i = 0; i < 256; ++i) {
    uint32_t c = i;
    for (int k = 0; k < 8; ++k) c = (c & 1) ? (c >> 1) ^ 0x82F63B78u : c >> 1;
    t[i] = c;
  }
  return t;
}
constexpr std::array<uint32_t, 256> kCrcTable = MakeCrcTable();

}  // namespace

uint32_t Crc32c(const std::byte* data, size_t len, uint32_t crc) {
  crc = ~crc;
  for (size_t i = 0; i < len; ++i)
    crc = kCrcTable[(crc ^ static_cast<uint8_t>(data[i])) & 0xff] ^ (crc >> 8);
  return ~crc;
}

// ---- FileLog ----

namespace {

constexpr char kFileMagic[8] = {'W', 'V', 'R', 'L', 'O', 'G', '0', '1'};
constexpr size_t kRecordHeader = 12;
constexpr uint8_t kEndOfBatch = 1;
constexpr uint32_t kMaxRecordPayload = 16 + kMaxOpBytes;

void Put(std::vector<std::byte>& out, uint64_t v, int n) {
  for (int i = 0; i < n; ++i) out.push_back(static_cast<std::byte>(v >> (8 * i)));
}
uint64_t Get(const std::byte* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

Status WriteAll(int fd, const std::byte* p, size_t n) {
  while (n > 0) {
    ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return Status::kIoError;
    }
    p += w;
    n -= static_cast<size_t>(w);
  }
  return Status::kOk;
}

}  // namespace

Status FileLog::Open(const std::string& path, std::unique_ptr<FileLog>* out) {
  out->reset();
  int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) return Status::kIoError;
  std::unique_ptr<FileLog> log(new FileLog(fd));
  Status st = log->Load();
  if (st != Status::kOk) return st;
  *out = std::move(log);
  return Status::kOk;
}

FileLog::~FileLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status FileLog::Load() {
  struct stat sb;
  if (::fstat(fd_, &sb) != 0) return Status::kIoError;
  std::vector<std::byte> file(static_cast<size_t>(sb.st_size));
  size_t got = 0;
  while (got < file.size()) {
    ssize_t r = ::pread(fd_, file.data() + got, file.size() - got, static_cast<off_t>(got));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return Status::kIoError;
    got += static_cast<size_t>(r);
  }
  if (file.size() < sizeof(kFileMagic)) {
    // New (or torn while being created): start it afresh.
    cut_bytes_ = file.size();
    if (::ftruncate(fd_, 0) != 0) return Status::kIoError;
    std::vector<std::byte> magic(sizeof(kFileMagic));
    std::memcpy(magic.data(), kFileMagic, sizeof(kFileMagic));
    if (Status st = WriteAll(fd_, magic.data(), magic.size()); st != Status::kOk) return st;
    if (::fdatasync(fd_) != 0) return Status::kIoError;
    return Status::kOk;
  }
  if (std::memcmp(file.data(), kFileMagic, sizeof(kFileMagic)) != 0) return Status::kCorrupt;

  // Replay batch by batch: the image only takes a batch once its last record is read.
  std::vector<Entry> entries;
  Metadata meta;
  std::vector<Mutation> batch;
  size_t pos = sizeof(kFileMagic);
  size_t good_end = pos;
  while (file.size() - pos >= kRecordHeader) {
    const std::byte* h = file.data() + pos;
    uint32_t len = static_cast<uint32_t>(Get(h, 4));
    uint32_t crc = static_cast<uint32_t>(Get(h + 4, 4));
    uint8_t type = static_cast<uint8_t>(h[8]);
    uint8_t flags = static_cast<uint8_t>(h[9]);
    if (len > kMaxRecordPayload || file.size() - pos - kRecordHeader < len) break;
    if (Crc32c(h + 8, 4 + len) != crc) break;
    const std::byte* p = h + kRecordHeader;
    Mutation m{};
    bool valid = true;
    switch (type) {
      case Mutation::kAppend:
        valid = len >= 16;
        if (valid) {
          m.kind = Mutation::kAppend;
          m.entry.view = Get(p, 8);
          m.entry.op_number = Get(p + 8, 8);
          m.entry.op.assign(p + 16, p + len);
        }
        break;
      case Mutation::kTruncate:
        valid = len == 8;
        if (valid) {
          m.kind = Mutation::kTruncate;
          m.after_op = Get(p, 8);
        }
        break;
      case Mutation::kMeta:
        valid = len == 32;
        if (valid) {
          m.kind = Mutation::kMeta;
          m.meta = {Get(p, 8), Get(p + 8, 8), Get(p + 16, 8), Get(p + 24, 8)};
        }
        break;
      default: valid = false;
    }
    if (!valid) break;
    batch.push_back(std::move(m));
    pos += kRecordHeader + len;
    if (flags & kEndOfBatch) {
      // Check the batch keeps op numbers contiguous before taking it.
      uint64_t size = entries.size();
      bool contiguous = true;
      for (const Mutation& bm : batch) {
        if (bm.kind == Mutation::kAppend) {
          if (bm.entry.op_number != size + 1) {
            contiguous = false;
            break;
          }
          ++size;
        } else if (bm.kind == Mutation::kTruncate && bm.after_op < size) {
          size = bm.after_op;
        }
      }
      if (!contiguous) break;
      for (const Mutation& bm : batch) ApplyTo(bm, entries, meta);
      batch.clear();
      good_end = pos;
    }
  }
  if (good_end < file.size()) {
    cut_bytes_ = file.size() - good_end;
    if (::ftruncate(fd_, static_cast<off_t>(good_end)) != 0) return Status::kIoError;
    if (::fdatasync(fd_) != 0) return Status::kIoError;
  }
  if (::lseek(fd_, static_cast<off_t>(good_end), SEEK_SET) < 0) return Status::kIoError;
  entries_ = std::move(entries);
  meta_ = meta;
  return Status::kOk;
}

Status FileLog::sync() {
  if (pending_.empty()) return Status::kOk;
  std::vector<std::byte> buf;
  for (size_t i = 0; i < pending_.size(); ++i) {
    const Mutation& m = pending_[i];
    size_t start = buf.size();
    Put(buf, 0, 4);  // length
    Put(buf, 0, 4);  // crc
    buf.push_back(static_cast<std::byte>(m.kind));
    buf.push_back(static_cast<std::byte>(i + 1 == pending_.size() ? kEndOfBatch : 0));
    Put(buf, 0, 2);
    switch (m.kind) {
      case Mutation::kAppend:
        Put(buf, m.entry.view, 8);
        Put(buf, m.entry.op_number, 8);
        buf.insert(buf.end(), m.entry.op.begin(), m.entry.op.end());
        break;
      case Mutation::kTruncate: Put(buf, m.after_op, 8); break;
      case Mutation::kMeta:
        Put(buf, m.meta.view, 8);
        Put(buf, m.meta.last_normal_view, 8);
        Put(buf, m.meta.commit_number, 8);
        Put(buf, m.meta.incarnation, 8);
        break;
    }
    uint64_t len = buf.size() - start - kRecordHeader;
    for (int k = 0; k < 4; ++k) buf[start + k] = static_cast<std::byte>(len >> (8 * k));
    uint32_t crc = Crc32c(buf.data() + start + 8, 4 + len);
    for (int k = 0; k < 4; ++k) buf[start + 4 + k] = static_cast<std::byte>(crc >> (8 * k));
  }
  if (Status st = WriteAll(fd_, buf.data(), buf.size()); st != Status::kOk) return st;
  if (::fdatasync(fd_) != 0) return Status::kIoError;
  pending_.clear();
  ++syncs_;
  return Status::kOk;
}

}  // namespace wave::kv::repl
