#include "wave/message_queue.h"

#include <cstring>

namespace wave {

bool ValidMessage(const Message& m) {
  switch (m.type) {
    case WAVE_MSG_TASK_NEW:
    case WAVE_MSG_TASK_RUNNABLE:
    case WAVE_MSG_TASK_BLOCKED:
    case WAVE_MSG_TASK_PREEMPTED:
    case WAVE_MSG_TASK_YIELD:
    case WAVE_MSG_TASK_DEAD:
    case WAVE_MSG_TASK_AFFINITY:
    case WAVE_MSG_TASK_RUNNING:
      return m.len == sizeof(wave_task_event) && m.event.flags == 0 && m.event.tid != WAVE_TID_NONE;
    case WAVE_MSG_CPU_IDLE:
    case WAVE_MSG_CPU_TICK:
    case WAVE_MSG_CPU_AVAILABLE:
    case WAVE_MSG_CPU_UNAVAILABLE:
      return m.len == sizeof(wave_task_event) && m.event.flags == 0;
    case WAVE_MSG_TXN_OUTCOME:
      return m.len == sizeof(wave_txn_outcome) && m.outcome.outcome >= WAVE_TXN_COMMITTED &&
             m.outcome.outcome <= WAVE_TXN_OUTCOME_MAX && m.outcome.reserved == 0;
    case WAVE_MSG_DECISION:
      return m.len == sizeof(wave_decision) && m.decision.reserved == 0 &&
             (m.decision.flags & ~WAVE_DECISION_F_PRESTAGED) == 0;
    case WAVE_MSG_DMA_DONE:
      return m.len == sizeof(wave_dma_done) && m.dma_done.status <= WAVE_DMA_EFAULT;
    case WAVE_MSG_RAW:
      return m.len <= kMaxMessagePayload;
    default:
      return false;
  }
}

uint32_t MessageProducer::SendBatch(std::span<const Message> msgs) {
  const uint32_t cap = ring_.payload_capacity();
  uint32_t n = 0;
  while (n < msgs.size() && msgs[n].len <= cap && msgs[n].len <= kMaxMessagePayload)
    n++;
  return ring_.EnqueueBatch(n, [&](uint32_t i, uint8_t* payload) {
    std::memcpy(payload, msgs[i].raw, msgs[i].len);
    return std::pair<uint16_t, uint16_t>{msgs[i].type, msgs[i].len};
  });
}

uint32_t MessageConsumer::Poll(std::span<Message> out) {
  uint32_t n = 0;
  ring_.DequeueBatch(static_cast<uint32_t>(out.size()),
                     [&](uint16_t type, const uint8_t* payload, uint16_t len) {
                       Message& m = out[n];
                       m.type = type;
                       m.len = len;
                       if (len > kMaxMessagePayload) {
                         bad_messages_++;
                         return;
                       }
                       std::memset(m.raw, 0, sizeof(m.raw));
                       std::memcpy(m.raw, payload, len);
                       if (!ValidMessage(m)) {
                         bad_messages_++;
                         return;
                       }
                       n++;
                     });
  return n;
}

}  // namespace wave
