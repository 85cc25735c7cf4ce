#include "proc_maps.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>

namespace wave::mem {
namespace {

bool ParseHex(std::string_view s, uint64_t* out) {
  if (s.empty() || s.size() > 16)
    return false;
  uint64_t v = 0;
  for (char c : s) {
    int d;
    if (c >= '0' && c <= '9')
      d = c - '0';
    else if (c >= 'a' && c <= 'f')
      d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F')
      d = c - 'A' + 10;
    else
      return false;
    v = v << 4 | static_cast<uint64_t>(d);
  }
  *out = v;
  return true;
}

bool IsSpecial(std::string_view name) {
  return name == "[vvar]" || name == "[vvar_vclock]" || name == "[vdso]" || name == "[vsyscall]";
}

}  // namespace

std::vector<Mapping> ParseMaps(std::string_view text) {
  std::vector<Mapping> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view() : text.substr(nl + 1);
    // start-end perms offset dev inode [name]
    const size_t dash = line.find('-');
    const size_t sp = line.find(' ');
    if (dash == std::string_view::npos || sp == std::string_view::npos || dash > sp)
      continue;
    Mapping m;
    if (!ParseHex(line.substr(0, dash), &m.start) ||
        !ParseHex(line.substr(dash + 1, sp - dash - 1), &m.end) || m.end <= m.start)
      continue;
    // The name starts after the fifth field.
    size_t pos = sp;
    for (int field = 0; field < 4 && pos != std::string_view::npos; field++) {
      pos = line.find_first_not_of(' ', pos);
      if (pos != std::string_view::npos)
        pos = line.find(' ', pos);
    }
    if (pos != std::string_view::npos) {
      pos = line.find_first_not_of(' ', pos);
      if (pos != std::string_view::npos)
        m.name = std::string(line.substr(pos));
    }
    m.special = IsSpecial(m.name);
    out.push_back(std::move(m));
  }
  std::sort(out.begin(), out.end(),
            [](const Mapping& a, const Mapping& b) { return a.start < b.start; });
  return out;
}

Result<std::vector<Mapping>> ReadMaps(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/maps", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoError(std::string("open ") + path, errno);
  std::string text;
  char buf[65536];
  for (;;) {
    const ssize_t n = read(fd, buf, sizeof(buf));
    if (n < 0) {
      if (errno == EINTR)
        continue;
      const int err = errno;
      close(fd);
      return ErrnoError(std::string("read ") + path, err);
    }
    if (n == 0)
      break;
    text.append(buf, static_cast<size_t>(n));
  }
  close(fd);
  return ParseMaps(text);
}

std::vector<Piece> MappedPieces(const std::vector<Mapping>& maps, uint64_t start, uint64_t len,
                                size_t max_pieces) {
  constexpr uint64_t kPageMask = 4095;
  std::vector<Piece> out;
  const uint64_t end = start + len;
  if (len == 0 || end < start)
    return out;
  // The first mapping ending after start.
  auto it = std::upper_bound(maps.begin(), maps.end(), start,
                             [](uint64_t a, const Mapping& m) { return a < m.end; });
  for (; it != maps.end() && it->start < end; ++it) {
    if (it->special)
      continue;
    const uint64_t s = (std::max(start, it->start) + kPageMask) & ~kPageMask;
    const uint64_t e = std::min(end, it->end) & ~kPageMask;
    if (e <= s)
      continue;
    if (!out.empty() && out.back().end == s) {
      out.back().end = e;
      continue;
    }
    if (out.size() >= max_pieces)
      break;
    out.push_back({s, e});
  }
  return out;
}

RangeCheck CheckRange(const std::vector<Mapping>& maps, uint64_t start, uint64_t len) {
  const uint64_t end = start + len;
  if (len == 0 || end < start)
    return RangeCheck::kOutside;
  // The last mapping starting at or before start.
  auto it = std::upper_bound(maps.begin(), maps.end(), start,
                             [](uint64_t a, const Mapping& m) { return a < m.start; });
  if (it == maps.begin())
    return RangeCheck::kOutside;
  --it;
  if (start >= it->end)
    return RangeCheck::kOutside;
  uint64_t covered = start;
  for (; it != maps.end() && it->start <= covered; ++it) {
    if (it->special)
      return RangeCheck::kSpecial;
    covered = std::max(covered, it->end);
    if (covered >= end)
      return RangeCheck::kInside;
  }
  return RangeCheck::kHole;
}

}  // namespace wave::mem
