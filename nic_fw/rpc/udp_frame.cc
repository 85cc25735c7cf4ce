#include "rpc/udp_frame.h"

namespace wave::rpc {

bool ParseUdpRequest(std::string_view datagram, uint16_t* request_id) {
  const auto* b = reinterpret_cast<const uint8_t*>(datagram.data());
  if (datagram.size() < kUdpHeader || b[2] != 0 || b[3] != 0 || b[4] != 0 || b[5] != 1)
    return false;
  *request_id = static_cast<uint16_t>((b[0] << 8) | b[1]);
  return true;
}

std::vector<std::string> FrameUdpReply(uint16_t request_id, std::string_view reply) {
  constexpr size_t kChunk = kUdpMaxDatagram - kUdpHeader;
  const size_t count = (reply.size() + kChunk - 1) / kChunk;
  std::vector<std::string> out;
  if (count > 0xffff)
    return out;
  out.reserve(count);
  for (size_t i = 0; i < count; ++i) {
    const char hdr[kUdpHeader] = {static_cast<char>(request_id >> 8),
                                  static_cast<char>(request_id),
                                  static_cast<char>(i >> 8),
                                  static_cast<char>(i),
                                  static_cast<char>(count >> 8),
                                  static_cast<char>(count),
                                  0,
                                  0};
    std::string& d = out.emplace_back(hdr, kUdpHeader);
    d.append(reply.substr(i * kChunk, kChunk));
  }
  return out;
}

}  // namespace wave::rpc
