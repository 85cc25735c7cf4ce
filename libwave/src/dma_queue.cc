#include "wave/dma_queue.h"

#include <cstring>

namespace wave {

bool DmaQueue::Submit(uint16_t op, uint64_t nic_off, std::span<const DmaSegment> sg,
                      uint64_t cookie) {
  if (sg.empty() || sg.size() > kDmaMaxSegments)
    return false;
  const uint32_t len =
      static_cast<uint32_t>(sizeof(wave_dma_desc) + sg.size() * sizeof(wave_dma_sge));
  if (len > descs_.payload_capacity())
    return false;
  uint64_t total = 0;
  for (const DmaSegment& s : sg)
    total += s.len;
  if (total > UINT32_MAX)
    return false;
  return descs_.EnqueueBatch(1, [&](uint32_t, uint8_t* payload) {
    wave_dma_desc d{};
    d.cookie = cookie;
    d.op = op;
    d.nr_sge = static_cast<uint16_t>(sg.size());
    d.total_len = static_cast<uint32_t>(total);
    d.nic_off = nic_off;
    d.nic_queue = nic_queue_;
    std::memcpy(payload, &d, sizeof(d));
    for (size_t i = 0; i < sg.size(); i++) {
      wave_dma_sge e{sg[i].addr, sg[i].len, 0};
      std::memcpy(payload + sizeof(d) + i * sizeof(e), &e, sizeof(e));
    }
    return std::pair<uint16_t, uint16_t>{WAVE_MSG_DMA_REQ, static_cast<uint16_t>(len)};
  }) == 1;
}

uint32_t DmaQueue::PollDone(std::span<wave_dma_done> out) {
  Message msgs[16];
  uint32_t total = 0;
  while (total < out.size()) {
    const size_t want = std::min<size_t>(16, out.size() - total);
    const uint32_t n = done_.Poll(std::span<Message>(msgs, want));
    for (uint32_t i = 0; i < n; i++) {
      if (msgs[i].type == WAVE_MSG_DMA_DONE)
        out[total++] = msgs[i].dma_done;
    }
    if (n < want)
      break;
  }
  return total;
}

uint32_t DmaEngine::Execute(const uint8_t* payload, uint16_t len, wave_dma_done* done) {
  // Copy the descriptor and its list out of the ring before checking them.
  uint8_t buf[kDmaSlotSize];
  done->status = WAVE_DMA_EINVAL;
  done->bytes = 0;
  done->cookie = 0;
  if (len < sizeof(wave_dma_desc) || len > sizeof(buf))
    return 0;
  std::memcpy(buf, payload, len);
  wave_dma_desc d;
  std::memcpy(&d, buf, sizeof(d));
  done->cookie = d.cookie;
  if ((d.op != WAVE_DMA_TO_NIC && d.op != WAVE_DMA_TO_HOST) || d.reserved != 0 || d.nr_sge == 0 ||
      d.nr_sge > kDmaMaxSegments || len != sizeof(d) + d.nr_sge * sizeof(wave_dma_sge))
    return 0;
  wave_dma_sge sge[kDmaMaxSegments];
  std::memcpy(sge, buf + sizeof(d), d.nr_sge * sizeof(wave_dma_sge));
  uint64_t total = 0;
  for (uint32_t i = 0; i < d.nr_sge; i++) {
    if (sge[i].len == 0 || sge[i].reserved != 0)
      return 0;
    total += sge[i].len;
  }
  if (total != d.total_len)
    return 0;
  done->status = WAVE_DMA_EFAULT;
  if (d.nic_queue != nic_queue_ || d.nic_off > nic_.size() || total > nic_.size() - d.nic_off)
    return 0;
  for (uint32_t i = 0; i < d.nr_sge; i++) {
    if (sge[i].addr > host_.size() || sge[i].len > host_.size() - sge[i].addr)
      return 0;
  }
  // Overlapping host segments make a scatter's result depend on copy order: malformed. The
  // segments are in the window (checked above), so the sums cannot wrap.
  done->status = WAVE_DMA_EINVAL;
  for (uint32_t i = 0; i < d.nr_sge; i++) {
    for (uint32_t j = i + 1; j < d.nr_sge; j++) {
      if (sge[i].addr < sge[j].addr + sge[j].len && sge[j].addr < sge[i].addr + sge[i].len)
        return 0;
    }
  }
  uint8_t* nic = nic_.data() + d.nic_off;
  for (uint32_t i = 0; i < d.nr_sge; i++) {
    uint8_t* host = host_.data() + sge[i].addr;
    if (d.op == WAVE_DMA_TO_NIC) {
      std::memcpy(nic, host, sge[i].len);
    } else {
      std::memcpy(host, nic, sge[i].len);
    }
    nic += sge[i].len;
  }
  if (model_)
    model_->Dma(total);
  done->status = WAVE_DMA_OK;
  done->bytes = d.total_len;
  return d.total_len;
}

uint32_t DmaEngine::Poll(uint32_t max) {
  // Never take a descriptor whose completion could not be posted.
  const uint32_t room = done_.ring().Room(max);
  if (room == 0)
    return 0;
  wave_dma_done dones[64];
  uint32_t n = 0;
  descs_.DequeueBatch(std::min<uint32_t>(room, 64),
                      [&](uint16_t type, const uint8_t* payload, uint16_t len) {
                        wave_dma_done& done = dones[n++];
                        if (type != WAVE_MSG_DMA_REQ) {
                          done = wave_dma_done{0, WAVE_DMA_EINVAL, 0};
                        } else {
                          stats_.bytes += Execute(payload, len, &done);
                        }
                        if (done.status == WAVE_DMA_OK) {
                          stats_.transfers++;
                        } else {
                          stats_.rejected++;
                        }
                      });
  for (uint32_t i = 0; i < n; i++)
    done_.Send(WAVE_MSG_DMA_DONE, &dones[i], sizeof(dones[i]));
  return n;
}

}  // namespace wave
