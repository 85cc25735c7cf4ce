#include "runtime/migration/shm_link.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

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

std::unique_ptr<ShmLink> ShmLink::create(uint32_t ring_bytes, uint64_t window_bytes) {
  const size_t region = page_round(ShmRing::bytes_for(ring_bytes));
  const size_t total = 2 * region + page_round(window_bytes);
  int fd = memfd_create("wave-migration-link", MFD_CLOEXEC);
  if (fd < 0)
    return nullptr;
  if (ftruncate(fd, static_cast<off_t>(total)) != 0) {
    close(fd);
    return nullptr;
  }
  void* p = mmap(nullptr, 2 * region, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  if (p == MAP_FAILED) {
    close(fd);
    return nullptr;
  }
  auto* base = static_cast<std::byte*>(p);
  const bool ok = ShmRing::format({base, region}) && ShmRing::format({base + region, region});
  munmap(p, 2 * region);
  if (!ok) {
    close(fd);
    return nullptr;
  }
  return std::unique_ptr<ShmLink>(new ShmLink(fd));
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
