// memcached's UDP framing: every datagram starts with an 8-byte big-endian header (request
// id, sequence number, datagram count, reserved), and a datagram is at most 1400 bytes. A
// request is one datagram; a reply may take several.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace wave::rpc {

inline constexpr size_t kUdpHeader = 8;
inline constexpr size_t kUdpMaxDatagram = 1400;

// The request id of a well-formed request datagram (sequence 0 of 1); false for anything else.
bool ParseUdpRequest(std::string_view datagram, uint16_t* request_id);

// The datagrams that carry `reply` for `request_id`, in order; none if the reply would take
// more than 65535 of them (the count field's limit).
std::vector<std::string> FrameUdpReply(uint16_t request_id, std::string_view reply);

}  // namespace wave::rpc
