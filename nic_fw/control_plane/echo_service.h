// The link self-test ("echo") service of uapi/wave_diag.h. The host puts a wave_echo_cmd and
// a payload at the start of a RAW host-to-NIC queue and rings it with WAVE_ECHO_DOORBELL; the
// NIC answers with a wave_echo_reply and the payload, every byte inverted, at the start of the
// RAW NIC-to-host queue the command names, and raises that queue's vector. It proves that
// bytes cross both ways, that doorbells arrive and that interrupts fire.
//
// The command is host-written: it is copied once, then checked on the copy. A command whose
// destination is no active RAW NIC-to-host queue is counted and dropped (there is nowhere to
// answer); any other bad command is counted and answered with the reason, never acted on.
#ifndef WAVE_NIC_FW_CONTROL_PLANE_ECHO_SERVICE_H_
#define WAVE_NIC_FW_CONTROL_PLANE_ECHO_SERVICE_H_

#include <cstdint>

#include "control_plane/control_plane.h"
#include "wave_diag.h"

namespace wave::nic {

class EchoService {
 public:
  explicit EchoService(ControlPlane& link) : link_(link) {}

  // Serves every RAW host-to-NIC queue of the link.
  void Attach();
  // Runs one command from `src` if `doorbell` asks for it. Returns the reply status, or -1 if
  // nothing was answered (not an echo doorbell, or no usable destination).
  int Handle(const Queue& src, uint32_t doorbell);

 private:
  ControlPlane& link_;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_CONTROL_PLANE_ECHO_SERVICE_H_
