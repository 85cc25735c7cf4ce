#include "nicd/mem_service.h"

#include <endian.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "wave_ring.h"

namespace wave::nicd {
namespace {

uint64_t MonotonicNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// The info block, copied once; false if it does not describe a memory link.
bool ReadInfo(const wave::QueueRegion& msg, wave_mem_info* out) {
  if (msg.size < WAVE_MEM_INFO_OFF + sizeof(wave_mem_info))
    return false;
  std::memcpy(out, msg.base + WAVE_MEM_INFO_OFF, sizeof(*out));
  std::atomic_thread_fence(std::memory_order_acquire);
  const uint16_t policy = le16toh(out->policy);
  return le32toh(out->magic) == WAVE_MEM_INFO_MAGIC &&
         le16toh(out->version) == WAVE_MEM_INFO_VERSION && policy >= WAVE_MEM_POLICY_AGE &&
         policy <= WAVE_MEM_POLICY_MAX && (le32toh(out->flags) & ~WAVE_MEM_INFO_FLAGS_KNOWN) == 0 &&
         out->reserved0 == 0;
}

MemAttachParams ParamsOf(const wave_mem_info& info) {
  MemAttachParams p;
  p.policy = le16toh(info.policy);
  p.max_reclaim_bytes_per_s = uint64_t{le32toh(info.max_reclaim_mib_s)} << 20;
  const uint32_t deadline_us = le32toh(info.deadline_us);
  p.deadline_ns = deadline_us == 0 ? 1'000'000'000ull : uint64_t{deadline_us} * 1000;
  p.kill = (le32toh(info.flags) & WAVE_MEM_INFO_F_KILL) != 0;
  return p;
}

// Decisions and the batch-done that follows them, at most one batch's worth plus its done.
constexpr size_t kOutboxLimit = WAVE_MEM_MAX_REGIONS + 1;

}  // namespace

struct MemService::Session {
  uint64_t attach_gen = 0;
  uint32_t msg_id = 0, dec_id = 0, dma_id = 0;
  uint32_t msg_gen = 0, dec_gen = 0, dma_gen = 0;
  std::unique_ptr<wave::NicLink> link;
  wave::QueueRegion dma;  // the NIC buffer the batches land in
  std::unique_ptr<MemDecider> decider;
  MemAttachParams params;
  uint64_t last_seq = 0;
  std::deque<wave::Message> outbox;
  std::vector<mem::Region> regions;
  std::vector<MemDecisionOut> decided;
  wave_mem_nic_stats stats{};  // the service's part; the decider fills the rest
  uint64_t update = 0;
  uint32_t polls_since_check = 0;
  DecisionIrqGate irq_gate;
  uint64_t irqs_counted = 0, coalesced_counted = 0;  // of irq_gate's stats, in totals_
};

MemService::MemService(wave::Device& device, MemServiceConfig config)
    : device_(device), config_(std::move(config)) {}

MemService::~MemService() {
  Stop();
}

bool MemService::Start(std::string* why) {
  if (!config_.factory) {
    *why = "memory service: no policy factory";
    return false;
  }
  wake_fd_ = nic::UniqueFd(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake_fd_) {
    *why = std::string("eventfd: ") + std::strerror(errno);
    return false;
  }
  thread_ = std::thread([this] { Run(); });
  return true;
}

void MemService::Stop() {
  if (!thread_.joinable())
    return;
  stop_.store(true, std::memory_order_relaxed);
  Wake();
  thread_.join();
  const MemServiceTotals t = totals();
  uint64_t refused = 0;
  for (uint64_t n : t.refused_batches)
    refused += n;
  std::fprintf(
      stderr,
      "wave-nicd: mem agent: attaches=%llu detaches=%llu attach_failures=%llu "
      "bad_info=%llu batches=%llu refused=%llu bad_slot=%llu stale=%llu late=%llu "
      "killed=%llu decisions=%llu ring_full_waits=%llu bad_messages=%llu decision_irqs=%llu "
      "irqs_coalesced=%llu irq_failures=%llu\n",
      static_cast<unsigned long long>(t.attaches), static_cast<unsigned long long>(t.detaches),
      static_cast<unsigned long long>(t.attach_failures),
      static_cast<unsigned long long>(t.bad_info), static_cast<unsigned long long>(t.batches),
      static_cast<unsigned long long>(refused), static_cast<unsigned long long>(t.bad_slot),
      static_cast<unsigned long long>(t.stale_batches),
      static_cast<unsigned long long>(t.late_batches),
      static_cast<unsigned long long>(t.killed_batches),
      static_cast<unsigned long long>(t.decisions),
      static_cast<unsigned long long>(t.ring_full_waits),
      static_cast<unsigned long long>(t.bad_messages),
      static_cast<unsigned long long>(t.decision_irqs),
      static_cast<unsigned long long>(t.irqs_coalesced),
      static_cast<unsigned long long>(t.irq_failures));
}

void MemService::Wake() {
  if (!wake_fd_)
    return;
  const uint64_t one = 1;
  ssize_t n = write(wake_fd_.get(), &one, sizeof(one));
  (void)n;  // EAGAIN: the counter is already non-zero, the thread wakes anyway
}

MemServiceTotals MemService::totals() const {
  std::lock_guard<std::mutex> lock(totals_mu_);
  return totals_;
}

void MemService::Run() {
  auto last_work = std::chrono::steady_clock::now();
  while (!stop_.load(std::memory_order_relaxed)) {
    if (!session_) {
      if (!TryAttach()) {
        SleepUntilWoken(config_.detached_sleep);
        continue;
      }
    }
    // The queue table and the info block are re-read every 256 polls and after each sleep,
    // not on every poll: three MapQueue calls are no cheaper than serving a batch.
    if (++session_->polls_since_check >= 256) {
      session_->polls_since_check = 0;
      if (!StillAttached()) {
        EndSession("detached");
        continue;
      }
    }
    const auto now = std::chrono::steady_clock::now();
    if (Serve()) {
      last_work = now;
      MaybeRaiseDecisionIrq(false);
    } else if (now - last_work > config_.spin) {
      MaybeRaiseDecisionIrq(true);
      PublishStats();
      SleepUntilWoken(config_.max_sleep);
      if (session_ && !StillAttached())
        EndSession("detached");
    }
  }
  if (session_)
    EndSession("stopping");
}

void MemService::SleepUntilWoken(std::chrono::milliseconds timeout) {
  pollfd p{wake_fd_.get(), POLLIN, 0};
  poll(&p, 1, static_cast<int>(timeout.count()));
  uint64_t v;
  while (read(wake_fd_.get(), &v, sizeof(v)) == sizeof(v)) {
  }
}

bool MemService::TryAttach() {
  const volatile wave_control_page* c = device_.control();
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id++) {
    if (c->queues[id].state != WAVE_QSTATE_ACTIVE || c->queues[id].kind != WAVE_QKIND_MESSAGE)
      continue;
    auto m = device_.MapQueue(id);
    if (!m)
      continue;
    wave_mem_info info{};
    if (!ReadInfo(m.value(), &info)) {
      if (le32toh(info.magic) == WAVE_MEM_INFO_MAGIC &&
          le64toh(info.attach_gen) != last_seen_gen_) {
        last_seen_gen_ = le64toh(info.attach_gen);
        std::lock_guard<std::mutex> lock(totals_mu_);
        totals_.bad_info++;
        std::fprintf(stderr, "wave-nicd: mem agent: invalid info block in queue %u, ignored\n", id);
      }
      continue;
    }
    const uint64_t gen = le64toh(info.attach_gen);
    if (gen == last_seen_gen_)
      continue;  // served, refused or ended already
    auto fail = [&](const std::string& why) {
      last_seen_gen_ = gen;
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.attach_failures++;
      std::fprintf(stderr, "wave-nicd: mem agent: link %llu refused: %s\n",
                   static_cast<unsigned long long>(gen), why.c_str());
      return false;
    };
    // kResume: a restarted firmware continues the rings where the killed one committed.
    auto nl = wave::NicLink::AttachTo(device_, id, le32toh(info.dma_queue),
                                      wave::RingConsumer::Start::kResume);
    if (!nl) {
      if (nl.error().code == EAGAIN)
        return false;
      return fail(nl.error().message);
    }
    auto s = std::make_unique<Session>();
    s->link = std::move(nl.value());
    if (s->link->decision_region().id != le32toh(info.dec_queue) || s->link->dma() == nullptr)
      return fail("the info block names other queues than the link's rings");
    auto dma = device_.MapQueue(le32toh(info.dma_queue));
    if (!dma || dma->size < uint64_t{WAVE_MEM_BATCH_SLOTS} * WAVE_MEM_BATCH_MAX)
      return fail("the DMA buffer cannot hold the batch slots");
    s->dma = dma.value();
    s->attach_gen = gen;
    s->msg_id = id;
    s->msg_gen = m->generation;
    s->dec_id = s->link->decision_region().id;
    s->dec_gen = s->link->decision_region().generation;
    s->dma_id = s->dma.id;
    s->dma_gen = s->dma.generation;
    s->params = ParamsOf(info);
    std::string why;
    s->decider = config_.factory(s->params, &why);
    if (!s->decider)
      return fail("no policy: " + why);
    s->decider->SetKill(s->params.kill);
    s->stats.policy = htole16(s->params.policy);
    s->irq_gate.Reset(s->link->decisions().ring().ring().position());
    last_seen_gen_ = gen;
    session_ = std::move(s);
    {
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.attaches++;
    }
    attached_.store(true, std::memory_order_release);
    std::fprintf(stderr, "wave-nicd: mem agent: link %llu attached (queues %u/%u/%u, policy %s)\n",
                 static_cast<unsigned long long>(gen), session_->msg_id, session_->dec_id,
                 session_->dma_id, session_->params.policy == WAVE_MEM_POLICY_SOL ? "sol" : "age");
    PublishStats();
    return true;
  }
  return false;
}

bool MemService::StillAttached() {
  Session& s = *session_;
  auto m = device_.MapQueue(s.msg_id);
  auto d = device_.MapQueue(s.dec_id);
  auto b = device_.MapQueue(s.dma_id);
  if (!m || !d || !b || m->generation != s.msg_gen || d->generation != s.dec_gen ||
      b->generation != s.dma_gen)
    return false;
  wave_mem_info info;
  if (!ReadInfo(m.value(), &info) || le64toh(info.attach_gen) != s.attach_gen)
    return false;
  const bool kill = (le32toh(info.flags) & WAVE_MEM_INFO_F_KILL) != 0;
  if (kill != s.params.kill) {
    s.params.kill = kill;
    s.decider->SetKill(kill);
    std::fprintf(stderr, "wave-nicd: mem agent: kill switch %s\n", kill ? "on" : "off");
  }
  return true;
}

void MemService::EndSession(const char* why) {
  std::fprintf(stderr, "wave-nicd: mem agent: link %llu %s\n",
               static_cast<unsigned long long>(session_->attach_gen), why);
  {
    std::lock_guard<std::mutex> lock(totals_mu_);
    totals_.detaches++;
    totals_.bad_messages += session_->link->messages().bad_messages();
  }
  session_.reset();
  attached_.store(false, std::memory_order_release);
}

bool MemService::Serve() {
  Session& s = *session_;
  bool work = false;
  // The host's DMA descriptors: gather its batches into the NIC buffer.
  if (const uint32_t n = s.link->dma()->Poll(16); n != 0) {
    std::lock_guard<std::mutex> lock(totals_mu_);
    totals_.dma_transfers += n;
    work = true;
  }
  if (!s.outbox.empty()) {
    if (!FlushOutbox())
      return work;  // the host has not made room yet: read nothing new
    work = true;
  }
  wave::Message msgs[8];
  const uint32_t n = s.link->messages().Poll(msgs);
  for (uint32_t i = 0; i < n; i++) {
    work = true;
    if (msgs[i].type == WAVE_MSG_MEM_BATCH) {
      HandleBatch(msgs[i].mem_batch);
    }
    // Other well-formed types are not the memory link's: dropped (libwave counted garbage).
  }
  if (n != 0 && !s.outbox.empty())
    FlushOutbox();
  return work;
}

void MemService::HandleBatch(const wave_mem_batch_ready& ready) {
  Session& s = *session_;
  const uint64_t arrived = MonotonicNs();
  const uint64_t seq = le64toh(ready.seq);
  const uint32_t slot = le32toh(ready.slot);
  const uint32_t len = le32toh(ready.len);  // libwave checked slot and len bounds
  const uint64_t off = uint64_t{slot} * WAVE_MEM_BATCH_MAX;
  if (off + len > s.dma.size) {
    std::lock_guard<std::mutex> lock(totals_mu_);
    totals_.bad_slot++;
    SendDone(seq, slot, WAVE_MEM_BATCH_REFUSED, 0, 0);
    return;
  }
  if (seq <= s.last_seq) {
    {
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.stale_batches++;
    }
    s.stats.stale_batches = htole64(le64toh(s.stats.stale_batches) + 1);
    SendDone(seq, slot, WAVE_MEM_BATCH_REFUSED, 0, 0);
    return;
  }
  mem::BatchInfo info;
  const mem::BatchError err = mem::DecodeBatch({s.dma.base + off, len}, &info, &s.regions);
  if (err == mem::BatchError::kOk && info.seq != seq) {
    // The notice and the bytes disagree: a torn or replayed slot.
    std::lock_guard<std::mutex> lock(totals_mu_);
    totals_.stale_batches++;
    SendDone(seq, slot, WAVE_MEM_BATCH_REFUSED, 0, 0);
    return;
  }
  if (err != mem::BatchError::kOk) {
    {
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.refused_batches[static_cast<int>(err)]++;
    }
    s.stats.refused_batches = htole64(le64toh(s.stats.refused_batches) + 1);
    SendDone(seq, slot, WAVE_MEM_BATCH_REFUSED, 0, 0);
    return;
  }
  s.last_seq = seq;
  // The host's clock is not the NIC's (the emulated NIC runs outside the VM), so the batch's
  // age is measured from its collection time plus what it has spent here; the host enforces
  // the whole deadline again when it enacts.
  s.decided.clear();
  const uint64_t start = MonotonicNs();
  const MemVerdict v =
      s.decider->Decide(info, s.regions, info.collected_ns + (start - arrived), &s.decided);
  const uint64_t agent_ns = MonotonicNs() - start;
  uint32_t status = WAVE_MEM_BATCH_OK;
  {
    std::lock_guard<std::mutex> lock(totals_mu_);
    totals_.batches++;
    if (v == MemVerdict::kLate) {
      totals_.late_batches++;
      status = WAVE_MEM_BATCH_LATE;
    } else if (v == MemVerdict::kKilled) {
      totals_.killed_batches++;
    } else if (v == MemVerdict::kRefused) {
      totals_.policy_refused++;
      status = WAVE_MEM_BATCH_REFUSED;
    }
    totals_.decisions += v == MemVerdict::kDecided ? s.decided.size() : 0;
  }
  s.stats.batches = htole64(le64toh(s.stats.batches) + 1);
  s.stats.regions = htole64(le64toh(s.stats.regions) + s.regions.size());
  s.stats.agent_ns = htole64(le64toh(s.stats.agent_ns) + agent_ns);
  if (v == MemVerdict::kLate)
    s.stats.late_batches = htole64(le64toh(s.stats.late_batches) + 1);
  if (v == MemVerdict::kRefused)
    s.stats.refused_batches = htole64(le64toh(s.stats.refused_batches) + 1);
  if (v == MemVerdict::kKilled)
    s.stats.killed_batches = htole64(le64toh(s.stats.killed_batches) + 1);
  uint32_t sent = 0;
  if (v == MemVerdict::kDecided) {
    for (const MemDecisionOut& d : s.decided) {
      wave::Message m;
      m.type = WAVE_MSG_MEM_DECISION;
      m.len = sizeof(wave_mem_decision);
      m.mem_decision = mem::EncodeDecision(seq, d.region, d.action, d.source);
      if (!mem::ValidDecision(m.mem_decision))
        continue;  // a policy bug must not reach the host
      if (d.action <= WAVE_MEM_ACTION_MAX) {
        s.stats.decisions[d.action] = htole64(le64toh(s.stats.decisions[d.action]) + 1);
        s.stats.decided_bytes[d.action] =
            htole64(le64toh(s.stats.decided_bytes[d.action]) + d.region.bytes());
      }
      s.outbox.push_back(m);
      sent++;
    }
  }
  SendDone(seq, slot, status, sent, agent_ns);
  PublishStats();
}

void MemService::SendDone(uint64_t seq, uint32_t slot, uint32_t status, uint32_t decisions,
                          uint64_t agent_ns) {
  wave::Message m;
  m.type = WAVE_MSG_MEM_BATCH_DONE;
  m.len = sizeof(wave_mem_batch_done);
  m.mem_done.seq = htole64(seq);
  m.mem_done.slot = htole32(slot);
  m.mem_done.status = htole32(status);
  m.mem_done.decisions = htole32(decisions);
  m.mem_done.agent_ns = htole32(static_cast<uint32_t>(std::min<uint64_t>(agent_ns, UINT32_MAX)));
  if (seq == 0 || slot >= WAVE_MEM_BATCH_SLOTS)
    return;  // cannot be expressed; libwave refused such a notice already
  session_->outbox.push_back(m);
  if (session_->outbox.size() > kOutboxLimit) {
    // Cannot happen with the reader paused while the outbox is non-empty; guard anyway.
    session_->outbox.pop_front();
  }
  FlushOutbox();
}

bool MemService::FlushOutbox() {
  Session& s = *session_;
  while (!s.outbox.empty()) {
    wave::Message batch[32];
    const size_t n = std::min<size_t>(std::size(batch), s.outbox.size());
    std::copy_n(s.outbox.begin(), n, batch);
    const uint32_t sent = s.link->decisions().ring().SendBatch({batch, n});
    s.outbox.erase(s.outbox.begin(), s.outbox.begin() + sent);
    if (sent < n) {
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.ring_full_waits++;
      return false;
    }
  }
  return true;
}

void MemService::MaybeRaiseDecisionIrq(bool going_idle) {
  if (!session_)
    return;
  Session& s = *session_;
  const wave::QueueRegion& dec = s.link->decision_region();
  const uint64_t produced = s.link->decisions().ring().ring().position();
  // The host's consumer record of the decision ring (libwave commits it as it polls):
  // written by the host, so it can only make the gate raise more often.
  const auto* hdr = reinterpret_cast<const wave_region_hdr*>(dec.base);
  const uint64_t committed =
      le64toh(std::atomic_ref<const uint64_t>(hdr->consumers[wave::kDecisionRing].committed)
                  .load(std::memory_order_acquire));
  const auto now = std::chrono::steady_clock::now();
  if (s.irq_gate.ShouldRaise(produced, committed, now, going_idle)) {
    s.irq_gate.Raised(produced, now);
    const bool ok =
        config_.raise_irq ? config_.raise_irq(dec.vector) : device_.Notify(dec.id, 0).ok();
    if (!ok) {
      std::lock_guard<std::mutex> lock(totals_mu_);
      totals_.irq_failures++;
    }
  }
  std::lock_guard<std::mutex> lock(totals_mu_);
  totals_.decision_irqs += s.irq_gate.stats().raised - s.irqs_counted;
  totals_.irqs_coalesced += s.irq_gate.stats().coalesced - s.coalesced_counted;
  s.irqs_counted = s.irq_gate.stats().raised;
  s.coalesced_counted = s.irq_gate.stats().coalesced;
}

void MemService::PublishStats() {
  if (!session_)
    return;
  Session& s = *session_;
  const wave::QueueRegion& d = s.link->decision_region();
  if (d.size < WAVE_MEM_STATS_OFF + sizeof(wave_mem_nic_stats))
    return;
  wave_mem_nic_stats out = s.stats;
  s.decider->FillStats(&out);
  out.magic = htole32(WAVE_MEM_STATS_MAGIC);
  out.policy = htole16(s.params.policy);
  out.killed = htole16(s.params.kill ? 1 : 0);
  out.attach_gen = htole64(s.attach_gen);
  auto* dst = reinterpret_cast<volatile uint8_t*>(d.base + WAVE_MEM_STATS_OFF);
  auto* update = reinterpret_cast<volatile uint64_t*>(dst + offsetof(wave_mem_nic_stats, update));
  *update = htole64(++s.update * 2 - 1);  // odd: being written
  std::atomic_thread_fence(std::memory_order_release);
  // Everything but the update word, then the even update word.
  const auto* src = reinterpret_cast<const uint8_t*>(&out);
  for (size_t i = 0; i < sizeof(out); i++) {
    if (i >= offsetof(wave_mem_nic_stats, update) &&
        i < offsetof(wave_mem_nic_stats, update) + sizeof(uint64_t))
      continue;
    dst[i] = src[i];
  }
  std::atomic_thread_fence(std::memory_order_release);
  *update = htole64(s.update * 2);
}

}  // namespace wave::nicd
