// The emulated NIC<->host link for migration: one shared-memory file holding two frame rings
// (NIC-to-host and host-to-NIC). Each side maps the file on its own (separate views, possibly
// in separate processes) and gets a LinkEnd: the ring it produces into and the one it consumes.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "runtime/migration/frame_channel.h"
#include "runtime/migration/shm_ring.h"

namespace wave::rt::mig {

enum class LinkSide : uint8_t { kNic, kHost };

// A mapping of the link file owned by one side.
class LinkEnd final : public MigrationLink {
 public:
  ~LinkEnd() override;
  LinkEnd(const LinkEnd&) = delete;
  LinkEnd& operator=(const LinkEnd&) = delete;

  ShmRing& tx() override { return tx_; }
  ShmRing& rx() override { return rx_; }

 private:
  friend class ShmLink;
  LinkEnd(void* base, size_t len, std::span<std::byte> tx, std::span<std::byte> rx)
      : base_(base), len_(len), tx_(tx), rx_(rx) {}
  void* base_;
  size_t len_;
  ShmRing tx_;
  ShmRing rx_;
};

class ShmLink {
 public:
  // Creates an anonymous shared file (memfd) with two rings of `ring_bytes` each.
  static std::unique_ptr<ShmLink> create(uint32_t ring_bytes);
  ~ShmLink();
  ShmLink(const ShmLink&) = delete;
  ShmLink& operator=(const ShmLink&) = delete;

  int fd() const { return fd_; }
  // Maps the file again for one side. Null on failure.
  std::unique_ptr<LinkEnd> open(LinkSide side) const;
  // Maps a link file received from elsewhere (e.g. an fd passed to another process).
  static std::unique_ptr<LinkEnd> open_fd(int fd, LinkSide side);

 private:
  ShmLink(int fd, size_t ring_region) : fd_(fd), ring_region_(ring_region) {}
  int fd_;
  size_t ring_region_;
};

}  // namespace wave::rt::mig
