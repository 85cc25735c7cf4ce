// One client of the network port, as its thread keeps it: a TCP connection, or one UDP
// request (which lives until its reply is sent). Port thread only.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>

#include "base/unique_fd.h"
#include "rpc/net_port.h"
#include "rpc/response_order.h"

namespace wave::rpc {

struct PortConnection {
  ConnId id = 0;
  nic::UniqueFd fd;  // TCP; a UDP request has none
  bool udp = false;
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  uint16_t udp_request_id = 0;
  std::string in;
  std::string out;      // ready to send, in order
  std::string sending;  // owned by the armed send
  ResponseOrder responses;
  bool recv_armed = false;
  bool send_armed = false;
  bool stalled = false;  // not read because of back-pressure
  bool closing = false;  // the handler asked to close once everything is sent
  bool dead = false;     // the peer is gone or the connection failed
  std::unique_ptr<char[]> recv_buf;
};

}  // namespace wave::rpc
