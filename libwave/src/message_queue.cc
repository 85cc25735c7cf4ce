#include "wave/message_queue.h"

#include <endian.h>

#include <cstring>

#include "wave/mem_batch.h"

namespace wave {

bool ValidMessage(const Message& m) {
  switch (m.type) {
    case WAVE_MSG_DECISION:
      return m.len == sizeof(wave_decision) && m.decision.reserved == 0 &&
             (m.decision.flags & ~WAVE_DECISION_F_PRESTAGED) == 0;
    case WAVE_MSG_DMA_DONE:
      return m.len == sizeof(wave_dma_done) && m.dma_done.status <= WAVE_DMA_EFAULT;
    case WAVE_MSG_MEM_BATCH:
      return m.len == sizeof(wave_mem_batch_ready) && le64toh(m.mem_batch.seq) != 0 &&
             le32toh(m.mem_batch.slot) < WAVE_MEM_BATCH_SLOTS &&
             le32toh(m.mem_batch.len) >= sizeof(wave_mem_batch_hdr) &&
             le32toh(m.mem_batch.len) <= WAVE_MEM_BATCH_MAX;
    case WAVE_MSG_MEM_DECISION:
      return m.len == sizeof(wave_mem_decision) && mem::ValidDecision(m.mem_decision);
    case WAVE_MSG_MEM_BATCH_DONE:
      return m.len == sizeof(wave_mem_batch_done) && le64toh(m.mem_done.seq) != 0 &&
             le32toh(m.mem_done.slot) < WAVE_MEM_BATCH_SLOTS &&
             le32toh(m.mem_done.status) <= WAVE_MEM_BATCH_LATE;
    case WAVE_MSG_RAW:
      return m.len <= kMaxMessagePayload;
    default:
      // Task, CPU and transaction-outcome messages: the rule wave.ko applies to BPF senders.
      return wave_sched_msg_ok(m.type, m.raw, m.len);
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
