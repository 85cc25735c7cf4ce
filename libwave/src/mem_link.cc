#include "wave/mem_link.h"

#include <endian.h>

#include <algorithm>
#include <cstring>

#include "wave/fence.h"

namespace wave::mem {
namespace {

constexpr uint64_t kSlotBytes = WAVE_MEM_BATCH_MAX;
constexpr uint64_t kBufferBytes = uint64_t{WAVE_MEM_BATCH_SLOTS} * kSlotBytes;

// Copies through a possibly write-combining mapping without reading it back.
void CopyOut(uint8_t* dst, const uint8_t* src, size_t n) {
  std::memcpy(dst, src, n);
}

}  // namespace

Result<std::unique_ptr<MemHostLink>> MemHostLink::Create(Device& dev, const MemLinkConfig& config,
                                                         uint64_t attach_gen) {
  if (config.policy < WAVE_MEM_POLICY_AGE || config.policy > WAVE_MEM_POLICY_MAX)
    return Error{EINVAL, "memory link: unknown policy " + std::to_string(config.policy)};
  if (attach_gen == 0)
    return Error{EINVAL, "memory link: attach_gen must be non-zero"};
  std::unique_ptr<MemHostLink> l(new MemHostLink(dev, config, attach_gen));
  LinkConfig lc;
  lc.message_slots = 256;  // batch notices only
  lc.decision_slots = config.decision_slots;
  lc.nr_cpus = 1;  // the decision region's prestaged slot is unused by this link
  lc.decision_vector = config.decision_vector;
  lc.dma_slots = 16;
  lc.dma_buffer_size = kBufferBytes;
  auto link = HostLink::Create(dev, lc);
  if (!link)
    return link.error();
  l->link_ = std::move(link.value());
  const std::span<uint8_t> window = dev.HostWindow();
  l->use_dma_ = !config.force_pio && window.size() >= config.window_offset + kBufferBytes;
  l->scratch_.resize(kSlotBytes);
  l->WriteInfo(config.kill ? WAVE_MEM_INFO_F_KILL : 0);
  // Tell a sleeping NIC that the table changed.
  (void)dev.Notify(l->link_->dma_region().id, 0);
  return l;
}

MemHostLink::~MemHostLink() {
  if (!link_)
    return;
  auto* info =
      reinterpret_cast<volatile wave_mem_info*>(link_->message_region().base + WAVE_MEM_INFO_OFF);
  info->magic = 0;
  FlushWrites(link_->message_region().mem);
  (void)dev_.DestroyQueue(link_->dma_region().id);
  (void)dev_.DestroyQueue(link_->decision_region().id);
  (void)dev_.DestroyQueue(link_->message_region().id);
}

void MemHostLink::WriteInfo(uint32_t flags) {
  wave_mem_info info{};
  info.version = htole16(WAVE_MEM_INFO_VERSION);
  info.policy = htole16(config_.policy);
  info.flags = htole32(flags);
  info.dec_queue = htole32(link_->decision_region().id);
  info.dma_queue = htole32(link_->dma_region().id);
  info.max_reclaim_mib_s = htole32(config_.max_reclaim_mib_s);
  info.attach_gen = htole64(attach_gen_);
  info.deadline_us = htole32(config_.deadline_us);
  const QueueRegion& m = link_->message_region();
  uint8_t* dst = m.base + WAVE_MEM_INFO_OFF;
  // Everything but the magic, then the magic: the NIC attaches only to a whole block.
  CopyOut(dst + sizeof(info.magic), reinterpret_cast<const uint8_t*>(&info) + sizeof(info.magic),
          sizeof(info) - sizeof(info.magic));
  StoreFence(m.mem);
  *reinterpret_cast<volatile uint32_t*>(dst) = htole32(WAVE_MEM_INFO_MAGIC);
  FlushWrites(m.mem);
}

void MemHostLink::SetKill(bool on) {
  config_.kill = on;
  auto* flags = reinterpret_cast<volatile uint32_t*>(
      link_->message_region().base + WAVE_MEM_INFO_OFF + offsetof(wave_mem_info, flags));
  *flags = htole32(on ? WAVE_MEM_INFO_F_KILL : 0);
  FlushWrites(link_->message_region().mem);
  (void)dev_.Notify(link_->dma_region().id, 0);
}

uint32_t MemHostLink::in_flight() const {
  return static_cast<uint32_t>(std::count_if(
      slots_.begin(), slots_.end(), [](const Slot& s) { return s.state != SlotState::kFree; }));
}

void MemHostLink::SetKernelSource(KernelBatchSource* source) {
  kernel_ = source;
  kernel_synced_ = false;
  use_dma_ = false;  // the kernel writes the slots through its mapping of the buffer
}

// A slot is free again: remember which batch it held, and tell the kernel.
void MemHostLink::Finish(uint32_t slot) {
  Slot& s = slots_[slot];
  s.state = SlotState::kFree;
  finished_seq_[slot] = std::max(finished_seq_[slot], s.seq);
  if (kernel_ && !kernel_->Release(slot, s.seq))
    stats_.kernel_release_errors++;
}

// Learns the batches the kernel announced since the last look. The kernel publishes a slot
// before its batch-ready notice goes out, so after a poll of the decision ring this sees every
// batch a message read in that poll can name.
void MemHostLink::SyncKernel(uint64_t now_ns) {
  last_sync_ns_ = now_ns;
  kernel_synced_ = true;
  stats_.kernel_syncs++;
  std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS> ks{};
  if (!kernel_->ReadSlots(&ks)) {
    stats_.kernel_sync_errors++;
    return;
  }
  for (uint32_t i = 0; i < WAVE_MEM_BATCH_SLOTS; i++) {
    const wave_mem_kslot& k = ks[i];
    Slot& s = slots_[i];
    if (k.state != WAVE_MEM_KSLOT_BUSY || k.seq % WAVE_MEM_BATCH_SLOTS != i || k.seq == 0)
      continue;
    if (s.state == SlotState::kAnnounced && s.seq == k.seq)
      continue;
    if (k.seq <= finished_seq_[i]) {
      // Done or expired here, but the kernel still holds it (a release that failed).
      if (!kernel_->Release(i, k.seq))
        stats_.kernel_release_errors++;
      continue;
    }
    s.state = SlotState::kAnnounced;
    s.seq = k.seq;
    s.collected_ns = k.collected_ns;
    s.len = k.len;
    stats_.batches++;
    stats_.bytes += k.len;
  }
}

Result<uint64_t> MemHostLink::Submit(BatchInfo info, std::span<const Region> regions,
                                     uint64_t now_ns) {
  if (kernel_)
    return Error{EPERM, "the kernel produces this link's batches"};
  ExpireOld(now_ns);
  const uint32_t slot = static_cast<uint32_t>(next_seq_ % WAVE_MEM_BATCH_SLOTS);
  if (slots_[slot].state != SlotState::kFree) {
    stats_.slots_busy++;
    return Error{EBUSY, "every batch slot is in flight"};
  }
  info.seq = next_seq_;
  const size_t len = EncodeBatch(info, regions, scratch_);
  if (len == 0)
    return Error{EINVAL, "batch of " + std::to_string(regions.size()) + " regions does not encode"};
  Slot& s = slots_[slot];
  s.seq = info.seq;
  s.collected_ns = info.collected_ns;
  s.len = static_cast<uint32_t>(len);
  next_seq_++;
  stats_.bytes += len;
  if (use_dma_) {
    const uint64_t win_off = config_.window_offset + uint64_t{slot} * kSlotBytes;
    std::memcpy(dev_.HostWindow().data() + win_off, scratch_.data(), len);
    const DmaSegment sg{win_off, static_cast<uint32_t>(len)};
    if (link_->dma()->Submit(WAVE_DMA_TO_NIC, uint64_t{slot} * kSlotBytes, {&sg, 1}, s.seq)) {
      s.state = SlotState::kDmaPending;
      (void)dev_.Notify(link_->dma_region().id, 0);
      return info.seq;
    }
    // The descriptor ring is full: this batch goes by PIO instead.
  }
  CopyOut(link_->dma_region().base + uint64_t{slot} * kSlotBytes, scratch_.data(), len);
  FlushWrites(link_->dma_region().mem);
  stats_.pio_batches++;
  Announce(slot);
  return info.seq;
}

bool MemHostLink::Announce(uint32_t slot) {
  Slot& s = slots_[slot];
  wave_mem_batch_ready r{};
  r.seq = htole64(s.seq);
  r.slot = htole32(slot);
  r.len = htole32(s.len);
  if (!link_->messages().Send(WAVE_MSG_MEM_BATCH, &r, sizeof(r))) {
    // 256 notice slots for at most WAVE_MEM_BATCH_SLOTS batches: only a NIC that stopped
    // consuming fills it. The slot stays in flight and expires.
    s.state = SlotState::kAnnounced;
    return false;
  }
  s.state = SlotState::kAnnounced;
  stats_.batches++;
  (void)dev_.Notify(link_->dma_region().id, 0);
  return true;
}

void MemHostLink::ExpireOld(uint64_t now_ns) {
  const uint64_t limit = config_.expire_us != 0
                             ? uint64_t{config_.expire_us} * 1000
                             : (uint64_t{config_.deadline_us} + 1'000'000) * 1000;
  for (Slot& s : slots_) {
    if (s.state != SlotState::kFree && now_ns > s.collected_ns + limit) {
      Finish(static_cast<uint32_t>(&s - slots_.data()));
      stats_.expired++;
    }
  }
}

uint32_t MemHostLink::Poll(uint64_t now_ns, const DecisionFn& on_decision, const DoneFn& on_done) {
  uint32_t handled = 0;
  if (use_dma_) {
    wave_dma_done done[8];
    const uint32_t n = link_->dma()->PollDone(done);
    for (uint32_t i = 0; i < n; i++) {
      handled++;
      const uint64_t seq = le64toh(done[i].cookie);
      const uint32_t slot = static_cast<uint32_t>(seq % WAVE_MEM_BATCH_SLOTS);
      Slot& s = slots_[slot];
      if (s.state != SlotState::kDmaPending || s.seq != seq) {
        stats_.stray++;
        continue;
      }
      if (le32toh(done[i].status) != WAVE_DMA_OK) {
        // The engine refused the transfer: the batch is still in the host window, so it
        // goes through the mapping instead.
        stats_.dma_errors++;
        const uint64_t win_off = config_.window_offset + uint64_t{slot} * kSlotBytes;
        CopyOut(link_->dma_region().base + uint64_t{slot} * kSlotBytes,
                dev_.HostWindow().data() + win_off, s.len);
        FlushWrites(link_->dma_region().mem);
        stats_.pio_batches++;
        Announce(slot);
        continue;
      }
      stats_.dma_batches++;
      Announce(slot);
    }
  }
  Message msgs[32];
  const uint32_t n = link_->decisions().ring().Poll(msgs);
  stats_.bad_messages = link_->decisions().ring().bad_messages();
  if (kernel_) {
    // One ioctl per poll was most of the mechanism's own CPU: read the slot table only when
    // this poll names a batch the link has not learnt of, or when it is due.
    bool unknown = false;
    for (uint32_t i = 0; i < n && !unknown; i++)
      unknown = !Knows(msgs[i]);
    if (unknown || !kernel_synced_ ||
        now_ns - last_sync_ns_ >= uint64_t{config_.kernel_sync_us} * 1000)
      SyncKernel(now_ns);
  }
  for (uint32_t i = 0; i < n; i++) {
    handled++;
    const Message& m = msgs[i];
    if (m.type == WAVE_MSG_MEM_DECISION) {
      const uint64_t seq = le64toh(m.mem_decision.batch_seq);
      const Slot& s = slots_[seq % WAVE_MEM_BATCH_SLOTS];
      if (s.state != SlotState::kAnnounced || s.seq != seq) {
        stats_.stray++;
        continue;
      }
      if (now_ns > s.collected_ns + uint64_t{config_.deadline_us} * 1000) {
        stats_.late_decisions++;
        continue;
      }
      stats_.decisions++;
      on_decision(m.mem_decision);
    } else if (m.type == WAVE_MSG_MEM_BATCH_DONE) {
      const uint64_t seq = le64toh(m.mem_done.seq);
      Slot& s = slots_[seq % WAVE_MEM_BATCH_SLOTS];
      if (s.state != SlotState::kAnnounced || s.seq != seq ||
          le32toh(m.mem_done.slot) != seq % WAVE_MEM_BATCH_SLOTS) {
        stats_.stray++;
        continue;
      }
      Finish(static_cast<uint32_t>(seq % WAVE_MEM_BATCH_SLOTS));
      switch (le32toh(m.mem_done.status)) {
        case WAVE_MEM_BATCH_OK:
          stats_.done_ok++;
          break;
        case WAVE_MEM_BATCH_REFUSED:
          stats_.done_refused++;
          break;
        default:
          stats_.done_late++;
          break;
      }
      on_done(m.mem_done);
    } else {
      stats_.stray++;
    }
  }
  ExpireOld(now_ns);
  return handled;
}

// Whether m names a batch in flight here (else it is one the kernel announced since the last
// sync, or a stray).
bool MemHostLink::Knows(const Message& m) const {
  uint64_t seq = 0;
  if (m.type == WAVE_MSG_MEM_DECISION)
    seq = le64toh(m.mem_decision.batch_seq);
  else if (m.type == WAVE_MSG_MEM_BATCH_DONE)
    seq = le64toh(m.mem_done.seq);
  else
    return true;
  const Slot& s = slots_[seq % WAVE_MEM_BATCH_SLOTS];
  return s.state == SlotState::kAnnounced && s.seq == seq;
}

bool MemHostLink::ReadNicStats(wave_mem_nic_stats* out) const {
  const QueueRegion& d = link_->decision_region();
  const auto* src = d.base + WAVE_MEM_STATS_OFF;
  auto* update =
      reinterpret_cast<const volatile uint64_t*>(src + offsetof(wave_mem_nic_stats, update));
  for (int attempt = 0; attempt < 100; attempt++) {
    InvalidateLine(src);
    const uint64_t before = le64toh(*update);
    if (before & 1)
      continue;
    std::atomic_thread_fence(std::memory_order_acquire);
    for (size_t off = 0; off < sizeof(*out); off += 64)
      InvalidateLine(src + off);
    std::memcpy(out, src, sizeof(*out));
    std::atomic_thread_fence(std::memory_order_acquire);
    if (le64toh(*update) == before)
      return le32toh(out->magic) == WAVE_MEM_STATS_MAGIC && le64toh(out->attach_gen) == attach_gen_;
  }
  return false;
}

int MemHostLink::EventFd() const {
  return dev_.EventFd(link_->decision_region().vector);
}

}  // namespace wave::mem
