#include "sst_table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace wave::kv {
namespace {

constexpr size_t kEntryHdr = sizeof(wave_kv_flush_entry);

Error Corrupt(const std::string& path, const std::string& why) {
  return Error{EBADMSG, path + ": " + why};
}

uint64_t FooterChecksum(const SstFooter& f) {
  return Fnv1a64(std::as_bytes(std::span(&f, 1)).first(offsetof(SstFooter, footer_checksum)));
}

void Append(std::vector<std::byte>& out, const void* p, size_t n) {
  const std::byte* b = static_cast<const std::byte*>(p);
  out.insert(out.end(), b, b + n);
}

Status WriteAll(int fd, std::span<const std::byte> bytes, const std::string& path) {
  while (!bytes.empty()) {
    ssize_t n = write(fd, bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError("write " + path, errno);
    bytes = bytes.subspan(static_cast<size_t>(n));
  }
  return {};
}

Status SyncDirOf(const std::string& path) {
  size_t slash = path.rfind('/');
  std::string dir = slash == std::string::npos ? "." : path.substr(0, slash);
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoError("open " + dir, errno);
  int rc = fsync(fd);
  int err = errno;
  close(fd);
  if (rc != 0)
    return ErrnoError("fsync " + dir, err);
  return {};
}

}  // namespace

Status WriteSst(const std::string& path, const SstMeta& meta,
                std::span<const FlushEntryView> entries) {
  std::vector<std::byte> file;
  std::vector<uint64_t> offsets;
  offsets.reserve(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    const FlushEntryView& e = entries[i];
    if (Status s = CheckFlushEntry(e.key, e.value.size(), e.tombstone); !s)
      return s;
    if (i > 0 && !(entries[i - 1].key < e.key))
      return Error{EINVAL, "sstable entries not sorted and unique at '" + std::string(e.key) + "'"};
    offsets.push_back(file.size());
    const wave_kv_flush_entry eh =
        FlushEntryHeader(e.key, e.value.size(), e.flags, e.exptime, e.cas, e.tombstone);
    Append(file, &eh, kEntryHdr);
    Append(file, e.key.data(), e.key.size());
    Append(file, e.value.data(), e.value.size());
    file.resize(offsets.back() + FlushEntryBytes(e.key.size(), e.value.size()));  // zero pad
  }
  SstFooter f{};
  f.magic = kSstMagic;
  f.version = kSstVersion;
  f.footer_size = sizeof(SstFooter);
  f.shard = meta.shard;
  f.flags = meta.replaces_older ? kSstReplacesOlder : 0;
  f.entry_count = entries.size();
  f.generation_lo = meta.generation_lo;
  f.generation_hi = meta.generation_hi;
  f.first_op = meta.first_op;
  f.last_op = meta.last_op;
  f.index_offset = file.size();
  Append(file, offsets.data(), offsets.size() * sizeof(uint64_t));
  f.body_checksum = Fnv1a64(file);
  f.batch_checksum = meta.batch_checksum;
  f.footer_checksum = FooterChecksum(f);
  Append(file, &f, sizeof(f));

  std::string tmp = path + ".tmp";
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0)
    return ErrnoError("create " + tmp, errno);
  Status s = WriteAll(fd, file, tmp);
  if (s && fdatasync(fd) != 0)
    s = ErrnoError("fdatasync " + tmp, errno);
  if (close(fd) != 0 && s)
    s = ErrnoError("close " + tmp, errno);
  if (s && rename(tmp.c_str(), path.c_str()) != 0)
    s = ErrnoError("rename " + tmp, errno);
  if (!s) {
    unlink(tmp.c_str());
    return s;
  }
  return SyncDirOf(path);
}

SstReader::~SstReader() {
  if (fd_ >= 0)
    close(fd_);
}

Result<std::unique_ptr<SstReader>> SstReader::Open(const std::string& path) {
  std::unique_ptr<SstReader> r(new SstReader());
  r->path_ = path;
  r->fd_ = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (r->fd_ < 0)
    return ErrnoError("open " + path, errno);
  struct stat st;
  if (fstat(r->fd_, &st) != 0)
    return ErrnoError("fstat " + path, errno);
  uint64_t size = static_cast<uint64_t>(st.st_size);
  if (size < sizeof(SstFooter))
    return Corrupt(path, "shorter than a footer (truncated)");
  // The whole file is read once to verify it; lookups then pread single entries.
  std::vector<std::byte> file(size);
  size_t got = 0;
  while (got < size) {
    ssize_t n = pread(r->fd_, file.data() + got, size - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n < 0)
      return ErrnoError("read " + path, errno);
    if (n == 0)
      return Corrupt(path, "shrank while read");
    got += static_cast<size_t>(n);
  }
  SstFooter f;
  std::memcpy(&f, file.data() + size - sizeof(f), sizeof(f));
  if (f.magic != kSstMagic)
    return Corrupt(path, "no sstable footer (truncated or not an sstable)");
  if (f.footer_checksum != FooterChecksum(f))
    return Corrupt(path, "footer checksum mismatch");
  if (f.version != kSstVersion || f.footer_size != sizeof(SstFooter))
    return Corrupt(path, "unknown version " + std::to_string(f.version));
  if ((f.flags & ~kSstFlagsKnown) != 0)
    return Corrupt(path, "unknown footer flags " + std::to_string(f.flags));
  uint64_t body = size - sizeof(f);
  if (f.index_offset > body || f.entry_count > (body - f.index_offset) / sizeof(uint64_t) ||
      f.index_offset + f.entry_count * sizeof(uint64_t) != body)
    return Corrupt(path, "index offset or entry count does not match the file size");
  if (Fnv1a64(std::span(file).first(body)) != f.body_checksum)
    return Corrupt(path, "data checksum mismatch");
  if (f.generation_lo > f.generation_hi || f.first_op > f.last_op)
    return Corrupt(path, "generation or op range reversed");

  r->meta_ = {f.shard,
              f.generation_lo,
              f.generation_hi,
              f.first_op,
              f.last_op,
              f.batch_checksum,
              (f.flags & kSstReplacesOlder) != 0};
  r->file_bytes_ = size;
  r->data_bytes_ = f.index_offset;
  r->keys_.reserve(f.entry_count);
  r->offsets_.resize(f.entry_count);
  std::memcpy(r->offsets_.data(), file.data() + f.index_offset, f.entry_count * sizeof(uint64_t));
  uint64_t expect = 0;  // entries are contiguous, so each offset is the previous one's end
  for (uint64_t i = 0; i < f.entry_count; ++i) {
    uint64_t off = r->offsets_[i];
    if (off != expect || f.index_offset - off < kEntryHdr)
      return Corrupt(path, "index entry " + std::to_string(i) + " points outside the data");
    wave_kv_flush_entry eh;
    std::memcpy(&eh, file.data() + off, kEntryHdr);
    uint64_t n = FlushEntryBytes(eh.key_len, eh.value_len);
    bool tomb = (eh.entry_flags & WAVE_KV_FLUSH_TOMBSTONE) != 0;
    if (eh.key_len == 0 || eh.key_len > WAVE_KV_FLUSH_MAX_KEY ||
        eh.value_len > WAVE_KV_FLUSH_MAX_VALUE || (tomb && eh.value_len != 0) ||
        (eh.entry_flags & ~WAVE_KV_FLUSH_ENTRY_FLAGS_KNOWN) != 0 || n > f.index_offset - off)
      return Corrupt(path, "entry " + std::to_string(i) + " malformed");
    std::string key(reinterpret_cast<const char*>(file.data()) + off + kEntryHdr, eh.key_len);
    if (!r->keys_.empty() && !(r->keys_.back() < key))
      return Corrupt(path, "keys out of order at entry " + std::to_string(i));
    r->keys_.push_back(std::move(key));
    expect = off + n;
  }
  if (expect != f.index_offset)
    return Corrupt(path, "bytes between the last entry and the index");
  return r;
}

Result<SstEntry> SstReader::ReadEntry(size_t i) const {
  uint64_t off = offsets_[i];
  uint64_t end = i + 1 < offsets_.size() ? offsets_[i + 1] : data_bytes_;
  std::vector<std::byte> buf(end - off);
  size_t got = 0;
  while (got < buf.size()) {
    ssize_t n = pread(fd_, buf.data() + got, buf.size() - got, static_cast<off_t>(off + got));
    if (n < 0 && errno == EINTR)
      continue;
    if (n <= 0)
      return n < 0 ? ErrnoError("read " + path_, errno) : Corrupt(path_, "shrank");
    got += static_cast<size_t>(n);
  }
  wave_kv_flush_entry eh;
  std::memcpy(&eh, buf.data(), kEntryHdr);
  // Verified at open; checked again in case the file changed under us since.
  if (FlushEntryBytes(eh.key_len, eh.value_len) != buf.size())
    return Corrupt(path_, "entry changed since open");
  SstEntry e;
  const char* p = reinterpret_cast<const char*>(buf.data()) + kEntryHdr;
  e.key.assign(p, eh.key_len);
  e.value.assign(p + eh.key_len, eh.value_len);
  e.flags = eh.flags;
  e.exptime = eh.exptime;
  e.cas = eh.cas;
  e.tombstone = (eh.entry_flags & WAVE_KV_FLUSH_TOMBSTONE) != 0;
  return e;
}

Result<SstReader::Found> SstReader::Lookup(std::string_view key) const {
  size_t lo = 0, hi = keys_.size();
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (std::string_view(keys_[mid]) < key)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == keys_.size() || keys_[lo] != key)
    return Found{};
  Result<SstEntry> e = ReadEntry(lo);
  if (!e)
    return e.error();
  return Found{true, std::move(e.value())};
}

Result<std::vector<SstEntry>> SstReader::ReadAll() const {
  std::vector<SstEntry> out;
  out.reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    Result<SstEntry> e = ReadEntry(i);
    if (!e)
      return e.error();
    out.push_back(std::move(e.value()));
  }
  return out;
}

}  // namespace wave::kv
