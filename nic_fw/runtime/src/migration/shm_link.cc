#include "runtime/migration/shm_link.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstring>

#include "migration/shm_ring.h"

namespace wave::rt::mig {
namespace {

constexpr size_t kPage = 4096;

size_t page_round(size_t v) {
  return (v + kPage - 1) & ~(kPage - 1);
}

}  // namespace

struct LinkEnd::Mapping {
  Mapping(void* b, size_t l) : base(b), len(l) {}
  ~Mapping() { munmap(base, len); }
  void* base;
  size_t len;
};

LinkEnd::LinkEnd(std::shared_ptr<Mapping> mapping, std::span<std::byte> tx, std::span<std::byte> rx,
                 std::span<std::byte> window)
    : mapping_(std::move(mapping)),
      tx_(std::make_unique<ShmRing>(tx)),
      rx_(std::make_unique<ShmRing>(rx)),
      window_(window) {}

LinkEnd::~LinkEnd() = default;

FrameChannel& LinkEnd::tx() {
  return *tx_;
}

FrameChannel& LinkEnd::rx() {
  return *rx_;
}

namespace {

// Sizes the file and formats both rings; the window stays zero (a fresh file reads as zeros).
bool format_link_file(int fd, uint32_t ring_bytes, uint64_t window_bytes) {
  const size_t region = page_round(ShmRing::bytes_for(ring_bytes));
  const size_t total = 2 * region + page_round(window_bytes);
  if (ftruncate(fd, static_cast<off_t>(total)) != 0)
    return false;
  void* p = mmap(nullptr, 2 * region, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED)
    return false;
  auto* base = static_cast<std::byte*>(p);
  const bool ok = ShmRing::format({base, region}) && ShmRing::format({base + region, region});
  munmap(p, 2 * region);
  return ok;
}

}  // namespace

std::unique_ptr<ShmLink> ShmLink::create(uint32_t ring_bytes, uint64_t window_bytes) {
  int fd = memfd_create("wave-migration-link", MFD_CLOEXEC);
  if (fd < 0)
    return nullptr;
  if (!format_link_file(fd, ring_bytes, window_bytes)) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<ShmLink>(new ShmLink(fd));
}

std::unique_ptr<ShmLink> ShmLink::create_file(const std::string& path, uint32_t ring_bytes,
                                              uint64_t window_bytes, std::string* error) {
  // Formatted under a private name, then linked into place: a peer that opens `path` never
  // sees a half-formatted file, and link() fails if `path` exists (a link file left by a
  // crashed host side holds rings in an unknown state; the caller removes it knowingly).
  const std::string tmp = path + ".tmp." + std::to_string(getpid());
  int fd = ::open(tmp.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) {
    *error = tmp + ": " + std::strerror(errno);
    return nullptr;
  }
  const bool formatted = format_link_file(fd, ring_bytes, window_bytes);
  const int format_errno = errno;
  const bool placed = formatted && ::link(tmp.c_str(), path.c_str()) == 0;
  const int place_errno = errno;
  unlink(tmp.c_str());
  if (!placed) {
    *error = formatted ? path + ": " + std::strerror(place_errno)
                       : path + ": cannot size or format the link: " + std::strerror(format_errno);
    close(fd);
    errno = formatted ? place_errno : format_errno;
    return nullptr;
  }
  return std::unique_ptr<ShmLink>(new ShmLink(fd));
}

std::unique_ptr<LinkEnd> ShmLink::open_path(const std::string& path, LinkSide side,
                                            std::string* error) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) {
    *error = path + ": " + std::strerror(errno);
    return nullptr;
  }
  auto end = open_fd(fd, side);  // the mapping outlives the descriptor
  close(fd);
  if (!end)
    *error = path + ": not a migration link file (bad size or ring header)";
  return end;
}

ShmLink::~ShmLink() {
  if (fd_ >= 0)
    close(fd_);
}

std::unique_ptr<LinkEnd> ShmLink::open(LinkSide side) const {
  return open_fd(fd_, side);
}

std::unique_ptr<LinkEnd> ShmLink::open_fd(int fd, LinkSide side) {
  struct stat st;
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % kPage != 0)
    return nullptr;
  const size_t len = static_cast<size_t>(st.st_size);
  // Populated now so that neither side pays page faults during a migration.
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED)
    return nullptr;
  auto mapping = std::make_shared<LinkEnd::Mapping>(p, len);
  auto* base = static_cast<std::byte*>(p);
  // The file may come from another process: the ring size in the first ring's header decides
  // the layout, and must leave room for both rings.
  if (len < sizeof(RingShared))
    return nullptr;
  uint32_t data_bytes = 0;
  std::memcpy(&data_bytes, base + offsetof(RingShared, size), sizeof data_bytes);
  if (data_bytes == 0 || (data_bytes & (data_bytes - 1)) != 0 || data_bytes > len)
    return nullptr;
  const size_t region = page_round(ShmRing::bytes_for(data_bytes));
  if (region > len / 2)
    return nullptr;
  // Ring 0 carries NIC-to-host frames, ring 1 host-to-NIC; the window follows.
  std::span<std::byte> to_host{base, region};
  std::span<std::byte> to_nic{base + region, region};
  std::span<std::byte> window{base + 2 * region, len - 2 * region};
  auto end = side == LinkSide::kNic ? new LinkEnd(mapping, to_host, to_nic, window)
                                    : new LinkEnd(mapping, to_nic, to_host, window);
  return std::unique_ptr<LinkEnd>(end);
}

}  // namespace wave::rt::mig
