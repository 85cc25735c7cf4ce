// The emulated NIC<->host link for migration: one shared-memory file holding two frame rings
// (NIC-to-host and host-to-NIC). Each side maps the file on its own (separate views, possibly
// in separate processes) and gets a LinkEnd: the ring it produces into and the one it consumes.
// Optionally the file also holds a DMA window after the rings (dma_window.h).
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include "runtime/migration/frame_channel.h"

namespace wave::rt::mig {

class ShmRing;  // the frame ring (private: src/migration/shm_ring.h)

enum class LinkSide : uint8_t { kNic, kHost };

// A mapping of the link file owned by one side.
class LinkEnd final : public MigrationLink {
 public:
  ~LinkEnd() override;
  LinkEnd(const LinkEnd&) = delete;
  LinkEnd& operator=(const LinkEnd&) = delete;

  FrameChannel& tx() override;
  FrameChannel& rx() override;
  std::span<std::byte> dma_window() override { return window_; }
  std::shared_ptr<const void> dma_window_keepalive() override { return mapping_; }

 private:
  friend class ShmLink;
  struct Mapping;
  LinkEnd(std::shared_ptr<Mapping> mapping, std::span<std::byte> tx, std::span<std::byte> rx,
          std::span<std::byte> window);
  std::shared_ptr<Mapping> mapping_;  // also held by objects adopted from the window
  std::unique_ptr<ShmRing> tx_;
  std::unique_ptr<ShmRing> rx_;
  std::span<std::byte> window_;
};

class ShmLink {
 public:
  // Creates an anonymous shared file (memfd) with two rings of `ring_bytes` each and a DMA
  // window of `window_bytes` (rounded to pages; 0 for none).
  static std::unique_ptr<ShmLink> create(uint32_t ring_bytes, uint64_t window_bytes = 0);
  ~ShmLink();
  ShmLink(const ShmLink&) = delete;
  ShmLink& operator=(const ShmLink&) = delete;

  // The same in a named file (tmpfs, e.g. /dev/shm/NAME), for a peer process that opens it
  // by path (open_path). The file must not exist yet. Null with *error set on failure.
  static std::unique_ptr<ShmLink> create_file(const std::string& path, uint32_t ring_bytes,
                                              uint64_t window_bytes, std::string* error);
  int fd() const { return fd_; }
  // Maps the file again for one side. Null on failure.
  std::unique_ptr<LinkEnd> open(LinkSide side) const;
  // Maps a link file received from elsewhere (e.g. an fd passed to another process).
  static std::unique_ptr<LinkEnd> open_fd(int fd, LinkSide side);
  // Maps a link file made by create_file. Null with *error set on failure.
  static std::unique_ptr<LinkEnd> open_path(const std::string& path, LinkSide side,
                                            std::string* error);

 private:
  explicit ShmLink(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace wave::rt::mig
