#include "runtime/migration/shm_link.h"

#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace wave::rt::mig {
namespace {

constexpr size_t kPage = 4096;

size_t page_round(size_t v) {
  return (v + kPage - 1) & ~(kPage - 1);
}

}  // namespace

LinkEnd::~LinkEnd() {
  if (base_ != nullptr)
    munmap(base_, len_);
}

std::unique_ptr<ShmLink> ShmLink::create(uint32_t ring_bytes) {
  const size_t region = page_round(ShmRing::bytes_for(ring_bytes));
  int fd = memfd_create("wave-migration-link", MFD_CLOEXEC);
  if (fd < 0)
    return nullptr;
  if (ftruncate(fd, static_cast<off_t>(2 * region)) != 0) {
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
  return std::unique_ptr<ShmLink>(new ShmLink(fd, region));
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
  if (fstat(fd, &st) != 0 || st.st_size <= 0 || st.st_size % (2 * kPage) != 0)
    return nullptr;
  const size_t len = static_cast<size_t>(st.st_size);
  const size_t region = len / 2;
  void* p = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, 0);
  if (p == MAP_FAILED)
    return nullptr;
  auto* base = static_cast<std::byte*>(p);
  // Ring 0 carries NIC-to-host frames, ring 1 host-to-NIC.
  std::span<std::byte> to_host{base, region};
  std::span<std::byte> to_nic{base + region, region};
  auto end = side == LinkSide::kNic ? new LinkEnd(p, len, to_host, to_nic)
                                    : new LinkEnd(p, len, to_nic, to_host);
  return std::unique_ptr<LinkEnd>(end);
}

}  // namespace wave::rt::mig
