// When the scheduling agent's poller interrupts the host for the decisions it published
// (issue 11 item 3): the host's handler in wave.ko drains the decision ring and kicks the idle
// CPUs those decisions name, so an idle CPU runs its task within interrupt-delivery time
// instead of waiting for the host's kick timer.
//
// One interrupt covers every decision published before the host's handler reads the ring, so
// the gate raises again only when there are decisions past the last interrupt and either the
// host has consumed everything up to it (its handler ran: the new ones may have come too late
// for it) or it has gone unanswered for `resend`. Before the poller sleeps it always covers
// what it published, so nothing waits for the timer because of the gate.
//
// The host's consumer position is read from memory the host writes: untrusted, it can only
// make the gate raise more often, never skip decisions the host has not seen.
#ifndef WAVE_NIC_FW_NICD_DECISION_IRQ_H_
#define WAVE_NIC_FW_NICD_DECISION_IRQ_H_

#include <chrono>
#include <cstdint>

namespace wave::nicd {

struct DecisionIrqStats {
  uint64_t raised = 0;     // interrupts the gate asked for
  uint64_t coalesced = 0;  // polls with new decisions left to an interrupt still on its way
};

class DecisionIrqGate {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DecisionIrqGate(std::chrono::nanoseconds resend = std::chrono::microseconds(200))
      : resend_(resend) {}

  // `produced`: the decision ring's producer position now; `committed`: the host's consumer
  // position as last written; `going_idle`: the poller is about to sleep. True when the
  // caller should raise the interrupt now (it then calls Raised).
  bool ShouldRaise(uint64_t produced, uint64_t committed, Clock::time_point now, bool going_idle) {
    if (produced <= signalled_) {
      return false;
    }
    if (going_idle || committed >= signalled_ || now - last_raise_ >= resend_) {
      return true;
    }
    stats_.coalesced++;
    return false;
  }

  void Raised(uint64_t produced, Clock::time_point now) {
    signalled_ = produced;
    last_raise_ = now;
    stats_.raised++;
  }

  // A new link: its ring starts at its own position.
  void Reset(uint64_t produced) {
    signalled_ = produced;
    last_raise_ = {};
  }

  const DecisionIrqStats& stats() const { return stats_; }

 private:
  std::chrono::nanoseconds resend_;
  uint64_t signalled_ = 0;  // producer position the last interrupt covered
  Clock::time_point last_raise_{};
  DecisionIrqStats stats_;
};

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_DECISION_IRQ_H_
