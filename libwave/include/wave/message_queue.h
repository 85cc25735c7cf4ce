// Typed messages over a ring: task events and transaction outcomes (host to NIC), decisions
// and DMA completions (NIC to host). The consumer copies each slot out before checking it and
// drops (and counts) anything whose type and length do not match uapi/wave_msg.h.
#ifndef WAVE_MESSAGE_QUEUE_H_
#define WAVE_MESSAGE_QUEUE_H_

#include <cstdint>
#include <span>

#include "wave/ring.h"
#include "wave_mem.h"
#include "wave_msg.h"

namespace wave {

inline constexpr uint32_t kMaxMessagePayload = 48;  // a 64-byte slot minus its header

struct Message {
  uint16_t type = WAVE_MSG_NOP;
  uint16_t len = 0;
  union {
    wave_task_event event;
    wave_txn_outcome outcome;
    wave_decision decision;
    wave_dma_done dma_done;
    wave_mem_batch_ready mem_batch;
    wave_mem_decision mem_decision;
    wave_mem_batch_done mem_done;
    uint8_t raw[kMaxMessagePayload];
  };
  Message() : raw{} {}
};

// True when a message of this type may have this length and its fields are in range.
bool ValidMessage(const Message& m);

class MessageProducer {
 public:
  MessageProducer() = default;
  explicit MessageProducer(RingProducer ring) : ring_(ring) {}

  bool Send(uint16_t type, const void* payload, uint16_t len) {
    return ring_.Enqueue(type, payload, len);
  }
  bool SendEvent(uint16_t type, const wave_task_event& e) { return Send(type, &e, sizeof(e)); }
  bool SendOutcome(const wave_txn_outcome& o) { return Send(WAVE_MSG_TXN_OUTCOME, &o, sizeof(o)); }
  bool SendDecision(const wave_decision& d) { return Send(WAVE_MSG_DECISION, &d, sizeof(d)); }
  // Sends a prefix of msgs in one batch (one fence pair); returns how many went.
  uint32_t SendBatch(std::span<const Message> msgs);

  RingProducer& ring() { return ring_; }

 private:
  RingProducer ring_;
};

class MessageConsumer {
 public:
  MessageConsumer() = default;
  explicit MessageConsumer(RingConsumer ring) : ring_(ring) {}

  // Fills out with up to out.size() valid messages; returns how many.
  uint32_t Poll(std::span<Message> out);

  uint64_t bad_messages() const { return bad_messages_; }
  RingConsumer& ring() { return ring_; }

 private:
  RingConsumer ring_;
  uint64_t bad_messages_ = 0;
};

}  // namespace wave

#endif  // WAVE_MESSAGE_QUEUE_H_
