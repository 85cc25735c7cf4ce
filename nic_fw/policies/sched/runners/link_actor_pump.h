// The NIC side of the scheduling link when the agent is an actor of the runtime
// (agent_actor.h): the link's DMA/doorbell engine, not policy. It reads batches of messages
// from the NicLink message ring, posts each batch as one request to the agent actor, and
// applies the actor's reply to the decision side (decision ring, prestaged slots, clears).
//
// Nothing is lost on the way in: at most `mailbox` requests are in flight to the actor, and
// while that many are, the pump leaves the messages in the ring (back-pressure to the host,
// whose producer sees the ring fill up), instead of reading and dropping them.
// Nothing is lost on the way out either: a ring decision the decision ring has no room for
// waits in a backlog and goes first on the next poll.
//
// Replies are applied in request order (by request id), whichever runtime core answered.
// One thread (the pump's owner) calls poll_once/drain; on_reply may run on any thread.
//
// Run to completion (the default, iPipe's model): the polling thread runs the actor's handler
// itself on an inline core of the runtime (runtime/inline_core.h), with the actor's DMOs,
// statistics, quarantine and watchdog as on a runtime core, and applies the reply at once.
// When the runtime refuses (the actor busy on a core, quarantined, gone), the request is
// posted as in the hand-over mode and its reply comes through on_reply.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>

#include "policies/sched/runners/link_agent.h"
#include "runtime/inline_core.h"
#include "runtime/runtime.h"
#include "wave/link.h"

namespace wave::agents {

struct LinkActorPumpConfig {
  uint32_t batch = 64;  // link messages per request, at most (1..64)
  // Requests in flight to the actor, at most (>= 1). One by default: the agent's order is the
  // ring's order whatever the runtime's scheduler does with a mailbox, and messages that come
  // while the actor works are batched into the next request. (With 2, the VM bench counted
  // more dropped and stale events than the thread mode: BENCHMARKS.md.)
  uint32_t mailbox = 1;
  // How long poll_once spins for the reply of the oldest request in flight before it returns
  // (the agent answers a batch in microseconds; spinning saves a wake-up on the way back).
  std::chrono::nanoseconds reply_spin{std::chrono::microseconds(50)};
  // Run the handler on the polling thread (true), or hand every request over to a runtime
  // core through post() (false: wave-nicd --sched-agent handoff).
  bool run_inline = true;
};

struct LinkActorPumpStats {
  uint64_t messages = 0;      // link messages read and posted
  uint64_t requests = 0;      // batches posted
  uint64_t replies = 0;       // replies applied (any status)
  uint64_t failed = 0;        // replies with an error status: the batch's events were lost
  uint64_t bad_replies = 0;   // reply payload the decoder refused
  uint64_t bad_cpu = 0;       // reply record for a CPU without a prestaged slot
  uint64_t decisions = 0;     // ring decisions pushed
  uint64_t prestaged = 0;     // prestaged slots written
  uint64_t clears = 0;        // prestaged slots emptied
  uint64_t ring_waits = 0;    // ring decisions that waited in the backlog (ring full)
  uint64_t mailbox_full = 0;  // polls that left the ring alone: `mailbox` requests in flight
  uint64_t spins_won = 0;     // replies that arrived while poll_once spun for them
  uint64_t reschedules = 0;   // empty requests: the last reply changed something
  uint64_t inline_runs = 0;   // requests the polling thread ran itself
  uint64_t handed_over = 0;   // requests posted to a runtime core (hand-over mode, refusals)
};

class LinkActorPump {
 public:
  // `actor` is an agent actor of `runtime` whose replies reach on_reply(); `epoch` the
  // agent's epoch (link_agent_epoch), for emptied prestaged slots.
  LinkActorPump(wave::NicLink& link, rt::Runtime& runtime, rt::ActorId actor, uint64_t epoch,
                const LinkActorPumpConfig& cfg = {});
  LinkActorPump(const LinkActorPump&) = delete;
  LinkActorPump& operator=(const LinkActorPump&) = delete;

  // The reply sink for the actor's replies (any thread).
  void on_reply(rt::Reply&& r);

  // Applies the replies that came back; if the mailbox has room, reads one batch from the
  // ring and posts it; then spins (bounded) for the oldest reply in flight and applies it.
  // Returns the number of link messages read.
  uint32_t poll_once();
  // Applies replies until none is in flight or `timeout` passed; true if none is left.
  bool drain(std::chrono::milliseconds timeout);

  uint64_t in_flight() const { return posted_ - applied_; }
  // True once a request was answered with an error (the actor was quarantined, evicted or
  // destroyed): the agent missed events and its view of the host is no longer complete.
  bool failed() const { return stats_.failed != 0; }
  const LinkActorPumpStats& stats() const { return stats_; }
  // Garbage slots the ring consumer dropped (libwave validates every slot).
  uint64_t bad_slots() const { return link_.messages().bad_messages(); }

 private:
  void submit();       // runs next_ inline, or posts it
  bool apply_ready();  // applies the next replies in order; true if it applied any
  void apply(const rt::Reply& r);
  void flush_backlog();

  wave::NicLink& link_;
  rt::Runtime& runtime_;
  rt::ActorId actor_;
  LinkActorPumpConfig cfg_;
  LinkDecisionSink sink_;
  uint64_t posted_ = 0;   // requests posted (ids 1..posted_)
  uint64_t applied_ = 0;  // replies applied (ids 1..applied_)
  std::deque<wave_decision> backlog_;
  uint64_t last_reply_records_ = 0;  // records in the replies applied since the last post
  LinkActorPumpStats stats_;
  std::unique_ptr<rt::InlineCore> inline_;  // null in the hand-over mode
  // The request being built and the inline reply: kept, so that their buffers are reused.
  rt::Message next_;
  rt::Reply reply_;

  std::mutex mu_;  // guards arrived_
  std::map<uint64_t, rt::Reply> arrived_;
  std::atomic<uint64_t> arrivals_{0};  // bumped after each arrival: what the spin watches
};

}  // namespace wave::agents
