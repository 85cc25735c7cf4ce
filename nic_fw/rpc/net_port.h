// The NIC's network port: where clients' requests arrive. On the emulated SmartNIC it is a TCP
// listener and a UDP socket of wave-nicd on the machine (clients reach it as external clients
// reach a real NIC's port); on hardware it would be the port's queues. One thread drives every
// socket through io_uring (multishot accept, recv, send, recvmsg).
//
// The port knows bytes and connections, not protocols: a Handler turns a connection's input
// into requests. For each request the handler reserves a response slot; responses may be
// completed from any thread in any order, and leave on the connection in slot order
// (pipelined clients see replies in request order).
//
// Bounds: connections (beyond max_connections a new one is told SERVER_ERROR and closed),
// input per connection (max_input_bytes unconsumed: the connection is closed), and
// back-pressure: a connection with max_inflight responses pending or max_output_bytes unsent is
// not read from until it drains to half.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "base/status.h"

namespace wave::rpc {

using ConnId = uint64_t;

struct NetPortConfig {
  std::string address = "127.0.0.1";
  int tcp_port = 0;   // 0: an ephemeral port (tcp_port() tells it); -1: no TCP
  int udp_port = -1;  // -1: no UDP; 0: ephemeral
  uint32_t max_connections = 4096;
  size_t max_input_bytes = (1 << 20) + 64 * 1024;  // one largest request and a little more
  size_t max_output_bytes = 8 << 20;
  uint32_t max_inflight = 4096;
  uint32_t max_udp_requests = 1024;  // datagrams being served at once; more are dropped
  unsigned queue_depth = 1024;
};

struct NetPortStats {
  uint64_t accepted = 0;
  uint64_t refused = 0;  // connections over max_connections
  uint64_t closed = 0;
  uint64_t open = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t responses = 0;
  uint64_t backpressure_stalls = 0;  // times a connection stopped being read
  uint64_t input_overflows = 0;      // connections closed for too much unparsed input
  uint64_t late_responses = 0;       // completions for connections already gone
  uint64_t udp_datagrams = 0;
  uint64_t udp_bad = 0;      // datagrams without a valid single-datagram frame header
  uint64_t udp_dropped = 0;  // over max_udp_requests
  uint64_t udp_replies = 0;  // reply datagrams sent
};

class NetPort;

class Handler {
 public:
  enum class Input : uint8_t {
    kContinue,
    kClose,  // stop reading; close once every reserved slot has been sent
  };
  virtual ~Handler() = default;
  // Called on the port's thread with the connection's unconsumed input; erases from the front
  // of `in` what it used. Whatever it leaves must be the start of an incomplete request.
  virtual Input OnInput(ConnId conn, std::string& in, NetPort& port) = 0;
  // The connection is gone (peer closed, error, or kClose done). Its pending slots may still
  // be completed; the port drops them.
  virtual void OnClosed(ConnId conn) { (void)conn; }
};

class NetPort {
 public:
  // Binds the sockets and starts the thread. The handler must outlive the port.
  static std::unique_ptr<NetPort> Start(const NetPortConfig& cfg, Handler& handler,
                                        nic::Status* status);
  ~NetPort();  // stops the thread and closes every socket
  NetPort(const NetPort&) = delete;
  NetPort& operator=(const NetPort&) = delete;

  int tcp_port() const;
  int udp_port() const;

  // The next response slot of `conn`, in request order. Port thread only (inside OnInput).
  uint64_t Reserve(ConnId conn);
  // The response bytes of a reserved slot (empty: the request has no reply, e.g. noreply).
  // Any thread, exactly once per slot.
  void Complete(ConnId conn, uint64_t slot, std::string bytes);

  NetPortStats stats() const;

 private:
  class Impl;  // net_port.cc: the ring, the sockets, the connections
  explicit NetPort(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace wave::rpc
