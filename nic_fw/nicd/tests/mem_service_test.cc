// The memory link end to end over a shared-memory device: the host's MemHostLink (libwave)
// against wave-nicd's MemService with a scripted policy. Batches cross by DMA and by PIO,
// decisions come back checked, a hostile host's batches are refused and counted, the kill
// switch holds, and a NIC that dies mid-batch loses nothing: the host enacts no decision that
// never came, and a restarted NIC serves the next batches.
#include "nicd/mem_service.h"

#include <endian.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <time.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "wave/mem_link.h"

namespace wave::nicd {
namespace {

using mem::BatchInfo;
using mem::MemHostLink;
using mem::MemLinkConfig;
using mem::Region;

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000'000ull + static_cast<uint64_t>(ts.tv_nsec);
}

// Pages out every idle region, cools every region with one access; counts what it saw.
class ScriptedDecider : public MemDecider {
 public:
  struct Shared {
    std::atomic<uint64_t> batches{0};
    std::atomic<uint64_t> regions{0};
    std::atomic<bool> killed{false};
    std::atomic<uint64_t> delay_ms{0};
    MemAttachParams params;
  };
  explicit ScriptedDecider(Shared* shared) : shared_(shared) {}

  MemVerdict Decide(const BatchInfo& info, std::span<const Region> regions, uint64_t now_ns,
                    std::vector<MemDecisionOut>* out) override {
    (void)info;
    (void)now_ns;
    if (shared_->killed.load())
      return MemVerdict::kKilled;
    if (uint64_t d = shared_->delay_ms.load(); d != 0)
      std::this_thread::sleep_for(std::chrono::milliseconds(d));
    shared_->batches++;
    shared_->regions += regions.size();
    for (const Region& r : regions) {
      if (r.nr_accesses == 0)
        out->push_back({r, WAVE_MEM_PAGEOUT, WAVE_MEM_SRC_MODEL});
      else if (r.nr_accesses == 1)
        out->push_back({r, WAVE_MEM_COLD, WAVE_MEM_SRC_FALLBACK});
    }
    return MemVerdict::kDecided;
  }
  void SetKill(bool on) override { shared_->killed = on; }
  void FillStats(wave_mem_nic_stats* s) const override {
    s->model_decisions = htole64(shared_->batches.load());
  }

 private:
  Shared* shared_;
};

class MemLinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static int instance = 0;
    spec_ = "shm:wave-mem-test-" + std::to_string(getpid()) + "-" + std::to_string(instance++);
    auto h = Device::Open(spec_, Role::kHost);
    ASSERT_TRUE(h) << h.error().message;
    host_ = std::move(h.value());
    auto n = Device::Open(spec_, Role::kNic);
    ASSERT_TRUE(n) << n.error().message;
    nic_ = std::move(n.value());
  }
  void TearDown() override {
    service_.reset();
    link_.reset();
  }

  void StartService() {
    MemServiceConfig cfg;
    cfg.factory = [this](const MemAttachParams& p, std::string*) {
      shared_.params = p;
      return std::make_unique<ScriptedDecider>(&shared_);
    };
    cfg.max_sleep = std::chrono::milliseconds(2);
    service_ = std::make_unique<MemService>(*nic_, cfg);
    std::string why;
    ASSERT_TRUE(service_->Start(&why)) << why;
  }

  void CreateLink(MemLinkConfig cfg = {}, uint64_t gen = 1) {
    auto l = MemHostLink::Create(*host_, cfg, gen);
    ASSERT_TRUE(l) << l.error().message;
    link_ = std::move(l.value());
  }

  // Regions of target 1: idle ones (page-out), one-access ones (cold), busy ones (keep).
  static std::vector<Region> Regions(uint32_t n) {
    std::vector<Region> r;
    for (uint32_t i = 0; i < n; i++)
      r.push_back({.start = 0x100000ull + i * 0x10000ull,
                   .end = 0x100000ull + i * 0x10000ull + 0x8000,
                   .target = 1,
                   .age = i,
                   .nr_accesses = static_cast<uint16_t>(i % 3 == 0   ? 0
                                                        : i % 3 == 1 ? 1
                                                                     : 5)});
    return r;
  }

  BatchInfo Info() const {
    return {.collected_ns = NowNs(), .aggr_us = 100000, .max_accesses = 20};
  }

  // Polls until `done` batch-dones arrived or the timeout passed.
  bool PollUntilDone(uint64_t done, std::chrono::milliseconds timeout = std::chrono::seconds(5)) {
    const auto end = std::chrono::steady_clock::now() + timeout;
    while (dones_.size() < done && std::chrono::steady_clock::now() < end) {
      if (link_->Poll(
              NowNs(), [this](const wave_mem_decision& d) { decisions_.push_back(d); },
              [this](const wave_mem_batch_done& d) { dones_.push_back(d); }) == 0)
        std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    return dones_.size() >= done;
  }

  bool WaitAttached(bool want = true) {
    for (int i = 0; i < 2000 && service_->attached() != want; i++)
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    return service_->attached() == want;
  }

  std::string spec_;
  std::unique_ptr<Device> host_, nic_;
  ScriptedDecider::Shared shared_;
  std::unique_ptr<MemService> service_;
  std::unique_ptr<MemHostLink> link_;
  std::vector<wave_mem_decision> decisions_;
  std::vector<wave_mem_batch_done> dones_;
};

void ExpectScriptedDecisions(const std::vector<wave_mem_decision>& got,
                             const std::vector<Region>& regions, uint64_t seq) {
  std::vector<wave_mem_decision> want;
  for (const Region& r : regions) {
    if (r.nr_accesses == 0)
      want.push_back(mem::EncodeDecision(seq, r, WAVE_MEM_PAGEOUT, WAVE_MEM_SRC_MODEL));
    else if (r.nr_accesses == 1)
      want.push_back(mem::EncodeDecision(seq, r, WAVE_MEM_COLD, WAVE_MEM_SRC_FALLBACK));
  }
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); i++)
    EXPECT_EQ(std::memcmp(&got[i], &want[i], sizeof(want[i])), 0) << "decision " << i;
}

TEST_F(MemLinkTest, BatchesCrossByDmaAndEveryDecisionComesBack) {
  StartService();
  MemLinkConfig cfg;
  cfg.policy = WAVE_MEM_POLICY_SOL;
  cfg.max_reclaim_mib_s = 64;
  cfg.deadline_us = 500000;
  CreateLink(cfg);
  ASSERT_TRUE(link_->dma()) << "the shm device has a host window: batches go by DMA";
  ASSERT_TRUE(WaitAttached());
  EXPECT_EQ(shared_.params.policy, WAVE_MEM_POLICY_SOL);
  EXPECT_EQ(shared_.params.max_reclaim_bytes_per_s, 64ull << 20);
  EXPECT_EQ(shared_.params.deadline_ns, 500'000'000ull);

  const auto regions = Regions(WAVE_MEM_MAX_REGIONS);  // a full batch, the largest there is
  auto seq = link_->Submit(Info(), regions, NowNs());
  ASSERT_TRUE(seq) << seq.error().message;
  ASSERT_TRUE(PollUntilDone(1));
  EXPECT_EQ(le32toh(dones_[0].status), WAVE_MEM_BATCH_OK);
  EXPECT_EQ(le32toh(dones_[0].decisions), decisions_.size());
  ExpectScriptedDecisions(decisions_, regions, *seq);
  EXPECT_EQ(shared_.regions.load(), regions.size());
  EXPECT_EQ(link_->stats().dma_batches, 1u);
  EXPECT_EQ(link_->in_flight(), 0u);

  // More batches than slots, one after the other: slots are reused after their done.
  for (int i = 0; i < 10; i++) {
    decisions_.clear();
    dones_.clear();
    const auto small = Regions(30);
    auto s = link_->Submit(Info(), small, NowNs());
    ASSERT_TRUE(s);
    ASSERT_TRUE(PollUntilDone(1));
    ExpectScriptedDecisions(decisions_, small, *s);
  }
  wave_mem_nic_stats st;
  for (int i = 0; i < 200 && !(link_->ReadNicStats(&st) && le64toh(st.batches) == 11); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(link_->ReadNicStats(&st));
  EXPECT_EQ(le64toh(st.batches), 11u);
  EXPECT_EQ(le64toh(st.regions), WAVE_MEM_MAX_REGIONS + 300u);
  EXPECT_EQ(le16toh(st.policy), WAVE_MEM_POLICY_SOL);
  EXPECT_EQ(le64toh(st.model_decisions), 11u);  // the decider's own part
  EXPECT_EQ(le64toh(st.decisions[WAVE_MEM_PAGEOUT]), 1366u + 10u * 10u);
}

TEST_F(MemLinkTest, WithoutAHostWindowBatchesGoThroughTheMapping) {
  StartService();
  MemLinkConfig cfg;
  cfg.force_pio = true;
  CreateLink(cfg);
  EXPECT_FALSE(link_->dma());
  const auto regions = Regions(100);
  // Several in flight at once, up to every slot.
  std::vector<uint64_t> seqs;
  for (uint32_t i = 0; i < WAVE_MEM_BATCH_SLOTS; i++) {
    auto s = link_->Submit(Info(), regions, NowNs());
    ASSERT_TRUE(s);
    seqs.push_back(*s);
  }
  ASSERT_TRUE(PollUntilDone(WAVE_MEM_BATCH_SLOTS));
  EXPECT_EQ(link_->stats().pio_batches, WAVE_MEM_BATCH_SLOTS);
  EXPECT_EQ(decisions_.size(), WAVE_MEM_BATCH_SLOTS * 67u);
  for (const auto& d : dones_)
    EXPECT_EQ(le32toh(d.status), WAVE_MEM_BATCH_OK);
}

TEST_F(MemLinkTest, TheKillSwitchStopsDecisionsAndReleasingItResumesThem) {
  StartService();
  CreateLink();
  ASSERT_TRUE(WaitAttached());
  link_->SetKill(true);
  for (int i = 0; i < 500 && !shared_.killed.load(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_TRUE(shared_.killed.load());
  ASSERT_TRUE(link_->Submit(Info(), Regions(50), NowNs()));
  ASSERT_TRUE(PollUntilDone(1));
  EXPECT_TRUE(decisions_.empty());
  EXPECT_EQ(le32toh(dones_[0].decisions), 0u);
  EXPECT_EQ(service_->totals().killed_batches, 1u);

  link_->SetKill(false);
  for (int i = 0; i < 500 && shared_.killed.load(); i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  ASSERT_FALSE(shared_.killed.load());
  ASSERT_TRUE(link_->Submit(Info(), Regions(50), NowNs()));
  ASSERT_TRUE(PollUntilDone(2));
  EXPECT_EQ(decisions_.size(), 34u);
}

TEST_F(MemLinkTest, DecisionsPastTheDeadlineAreNeverHandedOver) {
  StartService();
  MemLinkConfig cfg;
  cfg.deadline_us = 20000;  // 20 ms
  CreateLink(cfg);
  shared_.delay_ms = 60;  // the policy takes three deadlines
  ASSERT_TRUE(link_->Submit(Info(), Regions(30), NowNs()));
  ASSERT_TRUE(PollUntilDone(1));
  EXPECT_TRUE(decisions_.empty());
  EXPECT_EQ(link_->stats().late_decisions, 20u);
  EXPECT_EQ(link_->stats().decisions, 0u);
}

// The host need not poll: after it publishes a batch's decisions the NIC interrupts on the
// decision region's vector, so the host's eventfd becomes readable with nothing read yet.
TEST_F(MemLinkTest, TheNicInterruptsTheHostAfterPublishingABatchsDecisions) {
  StartService();
  MemLinkConfig cfg;
  cfg.force_pio = true;  // announced at once: nothing for the host to poll before the answer
  CreateLink(cfg);
  const int efd = link_->EventFd();
  ASSERT_GE(efd, 0);
  ASSERT_TRUE(WaitAttached());
  for (int round = 0; round < 3; round++) {
    uint64_t v;
    while (read(efd, &v, sizeof(v)) == sizeof(v)) {
    }
    decisions_.clear();
    dones_.clear();
    const auto regions = Regions(60);
    auto seq = link_->Submit(Info(), regions, NowNs());
    ASSERT_TRUE(seq);
    pollfd p{efd, POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 3000), 1) << "no interrupt for batch " << *seq;
    // Everything the interrupt announced is on the ring already: polls without waiting take
    // it all (each takes up to 32 messages).
    while (link_->Poll(
               NowNs(), [this](const wave_mem_decision& d) { decisions_.push_back(d); },
               [this](const wave_mem_batch_done& d) { dones_.push_back(d); }) != 0) {
    }
    ASSERT_EQ(dones_.size(), 1u) << "round " << round;
    ExpectScriptedDecisions(decisions_, regions, *seq);
  }
  // The service counts the interrupt just after raising it: the host may be faster.
  for (int i = 0; i < 500 && service_->totals().decision_irqs < 3; i++)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  EXPECT_GE(service_->totals().decision_irqs, 3u);
  EXPECT_EQ(service_->totals().irq_failures, 0u);
}

// The kernel batch path's slot table is one ioctl: the link reads it when due, not on every
// poll (it was the mechanism's largest own cost), and still releases every slot it frees.
class CountingKernelSource : public mem::KernelBatchSource {
 public:
  std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS> slots{};
  int reads = 0;
  std::vector<std::pair<uint32_t, uint64_t>> released;
  bool ReadSlots(std::array<wave_mem_kslot, WAVE_MEM_BATCH_SLOTS>* out) override {
    reads++;
    *out = slots;
    return true;
  }
  bool Release(uint32_t slot, uint64_t seq) override {
    released.push_back({slot, seq});
    slots[slot].state = 0;
    return true;
  }
};

TEST_F(MemLinkTest, TheKernelSlotTableIsReadWhenDueNotOnEveryPoll) {
  StartService();
  MemLinkConfig cfg;
  cfg.force_pio = true;
  cfg.kernel_sync_us = 60'000'000;  // due only once in this test: at the first poll
  CreateLink(cfg);
  ASSERT_TRUE(WaitAttached());
  CountingKernelSource kernel;
  std::vector<uint64_t> seqs;
  for (int i = 0; i < 2; i++) {
    auto s = link_->Submit(Info(), Regions(30), NowNs());
    ASSERT_TRUE(s);
    seqs.push_back(*s);
    auto& k = kernel.slots[*s % WAVE_MEM_BATCH_SLOTS];
    k.state = WAVE_MEM_KSLOT_BUSY;
    k.seq = *s;
  }
  link_->SetKernelSource(&kernel);
  uint64_t polls = 0;
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (dones_.size() < 2 && std::chrono::steady_clock::now() < end) {
    polls++;
    if (link_->Poll(
            NowNs(), [this](const wave_mem_decision& d) { decisions_.push_back(d); },
            [this](const wave_mem_batch_done& d) { dones_.push_back(d); }) == 0)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  ASSERT_EQ(dones_.size(), 2u);
  EXPECT_EQ(decisions_.size(), 40u);
  EXPECT_GT(polls, 2u);
  EXPECT_EQ(kernel.reads, 1) << "every decision and done named a batch the link knew";
  EXPECT_EQ(link_->stats().kernel_syncs, 1u);
  ASSERT_EQ(kernel.released.size(), 2u);
  EXPECT_EQ(kernel.released[0].second, seqs[0]);
  EXPECT_EQ(kernel.released[1].second, seqs[1]);
}

// The NIC never answers: the batch's slot is freed after its expiry and whatever the NIC
// might still send for it is dropped.
TEST_F(MemLinkTest, ABatchWithoutAnswerExpiresAndItsLateAnswerIsDropped) {
  MemLinkConfig cfg;
  cfg.deadline_us = 10000;
  cfg.expire_us = 30000;
  cfg.force_pio = true;
  CreateLink(cfg);
  for (uint32_t i = 0; i < WAVE_MEM_BATCH_SLOTS; i++)
    ASSERT_TRUE(link_->Submit(Info(), Regions(30), NowNs()));
  auto full = link_->Submit(Info(), Regions(30), NowNs());
  ASSERT_FALSE(full);
  EXPECT_EQ(full.error().code, EBUSY);
  std::this_thread::sleep_for(std::chrono::milliseconds(40));
  EXPECT_EQ(link_->Poll(
                NowNs(), [](const wave_mem_decision&) {}, [](const wave_mem_batch_done&) {}),
            0u);
  EXPECT_EQ(link_->in_flight(), 0u);
  EXPECT_EQ(link_->stats().expired, WAVE_MEM_BATCH_SLOTS);
  // The NIC comes up late and answers the old notices: nothing of it is handed over.
  StartService();
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  while (service_->totals().batches < WAVE_MEM_BATCH_SLOTS &&
         std::chrono::steady_clock::now() < end)
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  PollUntilDone(1, std::chrono::milliseconds(100));
  EXPECT_TRUE(decisions_.empty());
  EXPECT_TRUE(dones_.empty());
  EXPECT_EQ(link_->stats().stray, WAVE_MEM_BATCH_SLOTS * 21u);
}

TEST_F(MemLinkTest, ANicThatDiesMidBatchLosesNothingAndARestartedOneServes) {
  StartService();
  MemLinkConfig cfg;
  cfg.deadline_us = 50000;
  cfg.expire_us = 100000;
  CreateLink(cfg);
  ASSERT_TRUE(WaitAttached());
  shared_.delay_ms = 200;  // the NIC is busy with this batch when it dies
  ASSERT_TRUE(link_->Submit(Info(), Regions(30), NowNs()));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  service_.reset();  // firmware gone mid-batch (the service's thread finishes its batch...)
  shared_.delay_ms = 0;
  // ...but whatever it sent is past the deadline: nothing is handed over.
  PollUntilDone(1, std::chrono::milliseconds(300));
  EXPECT_TRUE(decisions_.empty());
  // The batch's slot frees itself; the host keeps submitting meanwhile (slots may be busy).
  std::this_thread::sleep_for(std::chrono::milliseconds(120));
  dones_.clear();
  StartService();  // a new firmware: resumes the rings
  ASSERT_TRUE(WaitAttached());
  const auto regions = Regions(30);
  auto seq = link_->Submit(Info(), regions, NowNs());
  ASSERT_TRUE(seq) << seq.error().message;
  ASSERT_TRUE(PollUntilDone(1));
  ExpectScriptedDecisions(decisions_, regions, *seq);
}

// A host that writes garbage: each batch is refused with its reason, the link survives.
TEST_F(MemLinkTest, GarbageBatchesAreRefusedAndCountedAndTheLinkSurvives) {
  StartService();
  MemLinkConfig cfg;
  cfg.force_pio = true;
  CreateLink(cfg);
  ASSERT_TRUE(WaitAttached());
  // Find the DMA buffer the link announced and corrupt a slot after the notice went: the
  // service sees the torn batch. Done through the NIC side's view of the queue table.
  const volatile wave_control_page* c = host_->control();
  uint32_t dma_id = UINT32_MAX;
  for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id++)
    if (c->queues[id].state == WAVE_QSTATE_ACTIVE && c->queues[id].kind == WAVE_QKIND_DMA)
      dma_id = id;
  ASSERT_NE(dma_id, UINT32_MAX);
  auto buf = nic_->MapQueue(dma_id);
  ASSERT_TRUE(buf);

  service_->Stop();  // hold the NIC while the slot is tampered with
  auto seq = link_->Submit(Info(), Regions(10), NowNs());
  ASSERT_TRUE(seq);
  const uint32_t slot = *seq % WAVE_MEM_BATCH_SLOTS;
  buf->base[uint64_t{slot} * WAVE_MEM_BATCH_MAX + 100] ^= 0xff;
  service_.reset();
  StartService();
  ASSERT_TRUE(PollUntilDone(1));
  EXPECT_EQ(le32toh(dones_[0].status), WAVE_MEM_BATCH_REFUSED);
  EXPECT_TRUE(decisions_.empty());
  EXPECT_EQ(service_->totals().refused_batches[static_cast<int>(mem::BatchError::kChecksum)], 1u);
  EXPECT_EQ(link_->stats().done_refused, 1u);

  // The next good batch is served.
  const auto regions = Regions(10);
  auto next = link_->Submit(Info(), regions, NowNs());
  ASSERT_TRUE(next);
  ASSERT_TRUE(PollUntilDone(2));
  EXPECT_EQ(le32toh(dones_[1].status), WAVE_MEM_BATCH_OK);
  ExpectScriptedDecisions(decisions_, regions, *next);
}

TEST_F(MemLinkTest, AnInvalidInfoBlockIsNotServed) {
  StartService();
  CreateLink();
  ASSERT_TRUE(WaitAttached());
  link_.reset();  // detach: the NIC notices
  ASSERT_TRUE(WaitAttached(false));
  MemLinkConfig bad;
  bad.policy = 9;
  EXPECT_FALSE(MemHostLink::Create(*host_, bad, 2));
  EXPECT_FALSE(MemHostLink::Create(*host_, MemLinkConfig{}, 0));
}

}  // namespace
}  // namespace wave::nicd
