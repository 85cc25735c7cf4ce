#include "wave/link.h"

#include <cerrno>
#include <cstring>

namespace wave {
namespace {

uint64_t PageAlign(uint64_t v) {
  return (v + WAVE_PAGE_SIZE - 1) & ~uint64_t{WAVE_PAGE_SIZE - 1};
}

bool PowerOfTwo(uint32_t v) {
  return v != 0 && (v & (v - 1)) == 0;
}

uint32_t CreditBatch(uint32_t nr_slots) {
  return nr_slots >= 4 ? nr_slots / 4 : 1;
}

wave_region_hdr* Header(const QueueRegion& r) {
  return reinterpret_cast<wave_region_hdr*>(r.base);
}

RingGeometry Ring(uint32_t kind, uint32_t slot_size, uint32_t nr, uint64_t off, uint32_t credit_q,
                  uint32_t credit_i) {
  RingGeometry g;
  g.kind = kind;
  g.slot_size = slot_size;
  g.nr_slots = nr;
  g.credit_batch = CreditBatch(nr);
  g.slots_off = off;
  g.credit_queue = credit_q;
  g.credit_index = credit_i;
  return g;
}

// One ring end as a given side reaches it.
RingEndpoint Endpoint(const QueueRegion& ring_region, const RingGeometry& g,
                      const QueueRegion& credit_region, uint32_t ring_index, bool host,
                      const LinkModel* model) {
  RingEndpoint ep;
  ep.slots = ring_region.base + g.slots_off;
  ep.geo = g;
  ep.credit = &Header(credit_region)->credits[g.credit_index];
  ep.consumer = &Header(ring_region)->consumers[ring_index];
  if (host) {
    ep.slot_mem = ring_region.mem;
    ep.credit_mem = credit_region.mem;
    ep.slot_cache = ring_region.cache_mode;
    ep.credit_cache = credit_region.cache_mode;
    ep.model = model;
  }
  return ep;
}

Result<QueueRegion> FindRegion(Device& dev, uint16_t kind) {
  const volatile wave_control_page* c = dev.control();
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id++) {
    if (c->queues[id].state != WAVE_QSTATE_ACTIVE || c->queues[id].kind != kind)
      continue;
    return dev.MapQueue(id);
  }
  return Error{EAGAIN, "no live queue of kind " + std::to_string(kind) + " yet"};
}

}  // namespace

Result<std::unique_ptr<HostLink>> HostLink::Create(Device& dev, const LinkConfig& cfg) {
  if (dev.role() != Role::kHost)
    return Error{EPERM, "HostLink needs the host side"};
  if (!PowerOfTwo(cfg.message_slots) || !PowerOfTwo(cfg.decision_slots) ||
      (cfg.dma_slots && !PowerOfTwo(cfg.dma_slots)) || cfg.nr_cpus == 0 || cfg.nr_cpus > 4096 ||
      cfg.message_slots > WAVE_RING_MAX_SLOTS || cfg.decision_slots > WAVE_RING_MAX_SLOTS ||
      cfg.dma_slots > WAVE_RING_MAX_SLOTS)
    return Error{EINVAL, "link config: slot counts must be powers of two, 1..4096 CPUs"};
  std::unique_ptr<HostLink> link(new HostLink(dev));
  const bool dma = cfg.dma_slots != 0;

  const uint64_t msg_off = WAVE_REGION_HDR_SIZE;
  const uint64_t desc_off = msg_off + uint64_t{cfg.message_slots} * 64;
  const uint64_t msg_size =
      PageAlign(desc_off + (dma ? uint64_t{cfg.dma_slots} * kDmaSlotSize : 0));
  const uint64_t dec_off = WAVE_REGION_HDR_SIZE;
  const uint64_t pre_off = dec_off + uint64_t{cfg.decision_slots} * 64;
  const uint64_t done_off = pre_off + uint64_t{cfg.nr_cpus} * sizeof(wave_prestaged_slot);
  const uint64_t dec_size = PageAlign(done_off + (dma ? uint64_t{cfg.dma_slots} * 64 : 0));

  QueueSpec ms{msg_size, WAVE_DIR_HOST_TO_NIC, cfg.cache_mode, WAVE_QKIND_MESSAGE,
               cfg.message_vector};
  auto m = dev.CreateQueue(ms);
  if (!m)
    return m.error();
  link->message_region_ = m.value();
  QueueSpec ds{dec_size, WAVE_DIR_NIC_TO_HOST, cfg.cache_mode, WAVE_QKIND_DECISION,
               cfg.decision_vector};
  auto d = dev.CreateQueue(ds);
  if (!d)
    return d.error();
  link->decision_region_ = d.value();
  if (dma) {
    QueueSpec bs{PageAlign(cfg.dma_buffer_size), WAVE_DIR_HOST_TO_NIC, cfg.cache_mode,
                 WAVE_QKIND_DMA, cfg.message_vector};
    auto b = dev.CreateQueue(bs);
    if (!b)
      return b.error();
    link->dma_region_ = b.value();
    link->has_dma_ = true;
  }
  const QueueRegion& M = link->message_region_;
  const QueueRegion& D = link->decision_region_;
  // A region may hold a previous queue's slots, whose sequence words could look valid.
  std::memset(M.base, 0, M.size);
  std::memset(D.base, 0, D.size);

  RingGeometry msg =
      Ring(WAVE_RING_KIND_MESSAGE, 64, cfg.message_slots, msg_off, D.id, kMessageRing);
  RingGeometry dec =
      Ring(WAVE_RING_KIND_DECISION, 64, cfg.decision_slots, dec_off, M.id, kDecisionRing);
  dec.flags = WAVE_RING_F_PRESTAGED;
  dec.prestaged_nr = cfg.nr_cpus;
  dec.prestaged_off = pre_off;
  RingGeometry desc =
      Ring(WAVE_RING_KIND_DMA_DESC, kDmaSlotSize, cfg.dma_slots, desc_off, D.id, kDmaDescRing);
  RingGeometry done =
      Ring(WAVE_RING_KIND_DMA_DONE, 64, cfg.dma_slots, done_off, M.id, kDmaDoneRing);

  // Descriptors of the decision region first: the NIC attaches once the message region's
  // descriptors are there, so those go last.
  WriteRingDesc(&Header(D)->rings[kDecisionRing], dec);
  if (dma)
    WriteRingDesc(&Header(D)->rings[kDmaDoneRing], done);
  if (dma)
    WriteRingDesc(&Header(M)->rings[kDmaDescRing], desc);
  WriteRingDesc(&Header(M)->rings[kMessageRing], msg);
  FlushWrites(M.mem);

  link->messages_ =
      MessageProducer(RingProducer(Endpoint(M, msg, D, kMessageRing, true, cfg.model)));
  MessageConsumer dec_consumer(RingConsumer(Endpoint(D, dec, M, kDecisionRing, true, cfg.model),
                                            RingConsumer::Start::kFresh));
  link->decisions_ =
      DecisionConsumer(dec_consumer, reinterpret_cast<const wave_prestaged_slot*>(D.base + pre_off),
                       cfg.nr_cpus, D.mem, D.cache_mode, cfg.model);
  if (dma) {
    link->dma_ =
        DmaQueue(RingProducer(Endpoint(M, desc, D, kDmaDescRing, true, cfg.model)),
                 MessageConsumer(RingConsumer(Endpoint(D, done, M, kDmaDoneRing, true, cfg.model),
                                              RingConsumer::Start::kFresh)),
                 link->dma_region_.id);
  }
  return link;
}

Result<std::unique_ptr<NicLink>> NicLink::Attach(Device& dev, RingConsumer::Start start,
                                                 const LinkModel* model) {
  if (dev.role() != Role::kNic)
    return Error{EPERM, "NicLink needs the NIC side"};
  auto m = FindRegion(dev, WAVE_QKIND_MESSAGE);
  if (!m)
    return m.error();
  if (!FindRegion(dev, WAVE_QKIND_DECISION))
    return Error{EAGAIN, "no live decision queue yet"};
  return AttachTo(dev, m->id, kAnyQueue, start, model);
}

Result<std::unique_ptr<NicLink>> NicLink::AttachTo(Device& dev, uint32_t message_queue,
                                                   uint32_t dma_queue, RingConsumer::Start start,
                                                   const LinkModel* model) {
  if (dev.role() != Role::kNic)
    return Error{EPERM, "NicLink needs the NIC side"};
  std::unique_ptr<NicLink> link(new NicLink(dev));
  auto m = dev.MapQueue(message_queue);
  if (!m)
    return m.error();
  if (m->kind != WAVE_QKIND_MESSAGE)
    return Error{EINVAL, "queue " + std::to_string(message_queue) + " is not a message queue"};
  link->message_region_ = m.value();
  const QueueRegion& M = link->message_region_;
  if (M.size < WAVE_REGION_HDR_SIZE)
    return Error{EINVAL, "link regions smaller than their header"};
  if (Header(M)->rings[kMessageRing].magic != WAVE_RING_MAGIC)
    return Error{EAGAIN, "message region not initialised yet"};
  std::atomic_thread_fence(std::memory_order_acquire);

  auto msg = ReadRingDesc(&Header(M)->rings[kMessageRing], M.size);
  if (!msg)
    return msg.error();
  // The decision region is the one holding the message ring's credits: the pair's other half.
  auto d = dev.MapQueue(msg->credit_queue);
  if (!d)
    return d.error();
  if (d->kind != WAVE_QKIND_DECISION)
    return Error{EINVAL, "the message ring's credits are not in a decision queue"};
  link->decision_region_ = d.value();
  const QueueRegion& D = link->decision_region_;
  if (D.size < WAVE_REGION_HDR_SIZE)
    return Error{EINVAL, "link regions smaller than their header"};
  auto dec = ReadRingDesc(&Header(D)->rings[kDecisionRing], D.size);
  if (!dec)
    return dec.error();
  if (msg->kind != WAVE_RING_KIND_MESSAGE || msg->slot_size != 64 || msg->credit_queue != D.id ||
      dec->kind != WAVE_RING_KIND_DECISION || dec->slot_size != 64 || dec->credit_queue != M.id ||
      !(dec->flags & WAVE_RING_F_PRESTAGED))
    return Error{EINVAL, "link rings do not describe a message/decision pair"};

  link->messages_ = MessageConsumer(
      RingConsumer(Endpoint(M, msg.value(), D, kMessageRing, false, nullptr), start));
  MessageProducer dec_producer(
      RingProducer(Endpoint(D, dec.value(), M, kDecisionRing, false, nullptr)));
  link->decisions_ = DecisionProducer(
      dec_producer, reinterpret_cast<wave_prestaged_slot*>(D.base + dec->prestaged_off),
      dec->prestaged_nr, MemKind::kWriteBack);

  if (Header(M)->rings[kDmaDescRing].magic == WAVE_RING_MAGIC) {
    auto b = dma_queue == kAnyQueue ? FindRegion(dev, WAVE_QKIND_DMA) : dev.MapQueue(dma_queue);
    if (b && b->kind != WAVE_QKIND_DMA)
      return Error{EINVAL, "queue " + std::to_string(dma_queue) + " is not a DMA buffer"};
    auto desc = ReadRingDesc(&Header(M)->rings[kDmaDescRing], M.size);
    auto done = ReadRingDesc(&Header(D)->rings[kDmaDoneRing], D.size);
    if (!b || !desc || !done || desc->kind != WAVE_RING_KIND_DMA_DESC ||
        desc->slot_size != kDmaSlotSize || desc->credit_queue != D.id ||
        done->kind != WAVE_RING_KIND_DMA_DONE || done->slot_size != 64 ||
        done->credit_queue != M.id)
      return Error{EINVAL, "DMA rings are inconsistent"};
    link->dma_region_ = b.value();
    link->dma_ = DmaEngine(
        RingConsumer(Endpoint(M, desc.value(), D, kDmaDescRing, false, nullptr), start),
        MessageProducer(RingProducer(Endpoint(D, done.value(), M, kDmaDoneRing, false, nullptr))),
        dev.HostWindow(), link->dma_region_.id,
        std::span<uint8_t>(link->dma_region_.base, link->dma_region_.size), model);
    link->has_dma_ = true;
  }
  return link;
}

}  // namespace wave
