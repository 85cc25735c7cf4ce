// Frames of the migration protocol between the NIC runtime and the host runtime. Every field
// of a received frame was written by the other side: receivers validate before use.
//
//   NIC -> host                                  host -> NIC
//   kStateBegin  actor type, root, cap, count    kStateAck   recreated (or refused)
//   kObject      id, size  (then kChunk frames)  kReply      a request the host ran
//   kChunk       id, offset, bytes               kStateBegin/kObject/kChunk/kStateEnd  (return)
//   kStateEnd    object count
//   kRequest     a buffered or forwarded request
//   kPull        give the actor back
//
// One-copy state transfer (flag kFlagDma on kStateBegin, when the link has a DMA window):
//   kStateBegin (kFlagDma)                       kDmaGrant   window range the NIC may write
//   kDmaObject   DmaDescriptor: the object's bytes are at a window offset, page aligned
//   kStateEnd
#pragma once

#include <cstdint>
#include <cstring>
#include <string>

namespace wave::rt::mig {

inline constexpr uint32_t kFrameMagic = 0x4d47524bu;  // "KRGM"
inline constexpr uint32_t kMaxFramePayload = 256 * 1024;
inline constexpr uint32_t kChunkBytes = 128 * 1024;

enum class FrameType : uint16_t {
  kPad = 0,  // ring filler up to the end of the buffer
  kStateBegin = 1,
  kObject = 2,
  kChunk = 3,
  kStateEnd = 4,
  kStateAck = 5,
  kRequest = 6,
  kReply = 7,
  kPull = 8,
  kDmaGrant = 9,  // arg0 = window offset, arg1 = length
  kDmaObject = 10,
};
inline constexpr uint16_t kMaxFrameType = 10;

struct FrameHeader {
  uint32_t magic;
  uint16_t type;   // FrameType
  uint16_t flags;  // kRequest: bit 0 = wants a reply
  uint32_t actor;
  uint32_t len;  // payload bytes that follow the header
  uint64_t arg0;
  uint64_t arg1;
};
static_assert(sizeof(FrameHeader) == 32);

inline constexpr uint16_t kFlagWantsReply = 1;
inline constexpr uint16_t kFlagDma = 2;  // kStateBegin: objects come through the DMA window

// Objects in the DMA window start on this boundary, so each one can be adopted on its own.
inline constexpr uint64_t kDmaAlign = 4096;
inline constexpr uint64_t dma_round(uint64_t n) {
  return (n + kDmaAlign - 1) & ~(kDmaAlign - 1);
}

// Payload of kDmaObject.
struct DmaDescriptor {
  uint64_t object;  // object id (owner = the migrating actor)
  uint64_t offset;  // in the DMA window
  uint64_t size;    // bytes of the object
};
static_assert(sizeof(DmaDescriptor) == 24);

// Payload of kStateBegin.
struct StateBegin {
  uint64_t root;
  uint64_t mem_cap;
  uint64_t total_bytes;
  uint32_t objects;
  uint32_t kind;  // request kind unused; reserved
  char type[48];  // NUL-padded actor type name
  char name[16];  // NUL-padded instance name
};
static_assert(sizeof(StateBegin) == 96);

// kReply: arg0 = request id, arg1 = status (low 32 bits) | latency_us (high 32 bits).

inline std::string fixed_string(const char* p, size_t n) {
  return std::string(p, strnlen(p, n));
}
inline void put_fixed(char* dst, size_t n, const std::string& s) {
  std::memset(dst, 0, n);
  std::memcpy(dst, s.data(), s.size() < n - 1 ? s.size() : n - 1);
}

}  // namespace wave::rt::mig
