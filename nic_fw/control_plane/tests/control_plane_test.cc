// The ControlPlane's dispatch rules and the echo service, in process, over a transport that keeps
// the BAR in this process's memory (the host side is the test itself).
#include "control_plane/control_plane.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <vector>

#include <gtest/gtest.h>

#include "base/shared_word.h"
#include "control_plane/echo_service.h"

namespace wave::nic {
namespace {

constexpr uint64_t kBarSize = 256 << 10;

// A BAR in local memory, eventfds for doorbells, eventfds standing for host interrupts.
class MemoryTransport final : public Transport {
 public:
  MemoryTransport() : bar_(kBarSize / 8) {
    for (uint32_t v = 0; v < WAVE_MAX_VECTORS; ++v) {
      doorbells_.emplace_back(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
      irqs_.emplace_back(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
    }
  }
  std::string_view name() const override { return "memory"; }
  std::span<std::byte> bar() const override {
    return {reinterpret_cast<std::byte*>(const_cast<uint64_t*>(bar_.data())), kBarSize};
  }
  uint32_t nr_vectors() const override { return WAVE_MAX_VECTORS; }
  uint32_t nic_peer_id() const override { return 0; }
  BarInit bar_init() const override { return BarInit::kFresh; }
  Status Start(EventLoop&, LinkStats&) override {
    started = true;
    return Status::Ok();
  }
  int doorbell_fd(uint32_t v) const override { return doorbells_[v].get(); }
  bool RaiseIrq(uint32_t v) override {
    if (!host_connected) {
      return false;
    }
    uint64_t one = 1;
    return write(irqs_[v].get(), &one, sizeof(one)) == sizeof(one);
  }
  void Stop() override { stopped = true; }

  // The host side.
  void Ring(uint32_t v) {
    uint64_t one = 1;
    ASSERT_EQ(write(doorbells_[v].get(), &one, sizeof(one)), 8);
  }
  uint64_t TakeIrqs(uint32_t v) {
    uint64_t n = 0;
    return read(irqs_[v].get(), &n, sizeof(n)) == sizeof(n) ? n : 0;
  }
  wave_control_page* control() { return reinterpret_cast<wave_control_page*>(bar().data()); }

  bool started = false;
  bool stopped = false;
  bool host_connected = true;

 private:
  std::vector<uint64_t> bar_;
  std::vector<UniqueFd> doorbells_;
  std::vector<UniqueFd> irqs_;
};

class LinkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(loop_.Init().ok());
    ASSERT_TRUE(link_.Start({}).ok());
  }
  // Runs the loop until it goes idle.
  void Pump() {
    int ran = 1;
    for (int i = 0; i < 50 && ran > 0; ++i) {
      ASSERT_TRUE(loop_.RunOnce(std::chrono::microseconds(2000), &ran).ok());
    }
  }
  void AddQueue(uint32_t id, uint64_t off, uint16_t dir, uint16_t kind, uint16_t vector) {
    wave_queue_desc& d = t_.control()->queues[id];
    StoreLe(d.offset, off);
    StoreLe(d.size, 0x1000u);
    StoreLe(d.dir, dir);
    StoreLe(d.kind, kind);
    StoreLe(d.vector, vector);
    StoreLe(d.cache_mode, WAVE_CACHE_WB);
    PublishLe(d.state, WAVE_QSTATE_ACTIVE);
  }
  void BumpGen() {
    PublishLe(t_.control()->queue_table_gen, LoadLe(t_.control()->queue_table_gen) + 1);
  }
  void SetDoorbellWord(uint32_t q, uint32_t v) {
    auto* db = reinterpret_cast<wave_doorbell_page*>(t_.bar().data() + WAVE_BAR_DOORBELL_OFF);
    StoreLe(db->queue_db[q], v);
  }

  MemoryTransport t_;
  EventLoop loop_;
  ControlPlane link_{t_, loop_};
};

TEST_F(LinkTest, StartPublishesAndStopRetracts) {
  EXPECT_TRUE(t_.started);
  EXPECT_EQ(ConsumeLe(t_.control()->magic), WAVE_ABI_MAGIC);
  EXPECT_EQ(LoadLe(t_.control()->nic_state), WAVE_NIC_STATE_READY);
  EXPECT_EQ(LoadLe(t_.control()->nr_vectors), WAVE_MAX_VECTORS);
  link_.Stop();
  EXPECT_TRUE(t_.stopped);
  EXPECT_EQ(LoadLe(t_.control()->nic_state), WAVE_NIC_STATE_OFF);
  EXPECT_EQ(t_.TakeIrqs(WAVE_ADMIN_VECTOR), 2u);  // told the host: STOPPING, then OFF
}

TEST_F(LinkTest, DispatchesByQueueThenKindThenVector) {
  AddQueue(1, 0x2000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_MESSAGE, 3);
  AddQueue(2, 0x3000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_MESSAGE, 3);
  AddQueue(3, 0x4000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_MESSAGE, 4);  // another vector
  BumpGen();
  std::vector<std::string> calls;
  link_.OnQueueKind(WAVE_QKIND_MESSAGE, WAVE_DIR_HOST_TO_NIC, [&](const Queue& q, uint32_t db) {
    calls.push_back("kind:" + std::to_string(q.id) + ":" + std::to_string(db));
  });
  link_.OnQueue(2, [&](const Queue& q, uint32_t db) {
    calls.push_back("queue:" + std::to_string(q.id) + ":" + std::to_string(db));
  });
  link_.OnVector(3, [&](uint32_t v) { calls.push_back("vector:" + std::to_string(v)); });
  SetDoorbellWord(1, 11);
  SetDoorbellWord(2, 22);
  t_.Ring(3);  // the table generation moved, so this doorbell re-scans first
  Pump();
  EXPECT_EQ(calls, (std::vector<std::string>{"kind:1:11", "queue:2:22", "vector:3"}));
  EXPECT_NE(link_.queues().Find(3), nullptr);
  EXPECT_EQ(link_.stats().doorbells(3), 1u);
  EXPECT_EQ(LoadLe(t_.control()->nic_doorbells), 1u);
}

TEST_F(LinkTest, AdminVectorRescansTheTable) {
  EXPECT_EQ(link_.queues().active().size(), 0u);
  AddQueue(0, 0x2000, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_DECISION, 1);
  t_.Ring(WAVE_ADMIN_VECTOR);  // no generation bump: the admin doorbell alone re-scans
  Pump();
  EXPECT_EQ(link_.queues().active().size(), 1u);
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::active_queues), 1u);
}

TEST_F(LinkTest, RaiseIrqCountsAndRefusesBadVectors) {
  EXPECT_TRUE(link_.RaiseIrq(5));
  EXPECT_EQ(t_.TakeIrqs(5), 1u);
  EXPECT_EQ(link_.stats().irqs(5), 1u);
  EXPECT_FALSE(link_.RaiseIrq(WAVE_MAX_VECTORS));
  t_.host_connected = false;
  EXPECT_FALSE(link_.RaiseIrq(5));
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::irq_errors), 2u);
}

TEST_F(LinkTest, EchoServiceValidatesEveryField) {
  EchoService echo(link_);
  echo.Attach();
  AddQueue(4, 0x10000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_RAW, 1);
  AddQueue(5, 0x11000, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_RAW, 2);
  AddQueue(6, 0x12000, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_MESSAGE, 2);  // not RAW
  link_.RescanQueues();
  const Queue* src = link_.queues().Find(4);
  ASSERT_NE(src, nullptr);
  auto* cmd = reinterpret_cast<wave_echo_cmd*>(src->region.data());
  auto* rep = reinterpret_cast<wave_echo_reply*>(t_.bar().data() + 0x11000);
  auto send = [&](uint32_t magic, uint32_t dst, uint32_t len, uint32_t doorbell) {
    StoreLe(cmd->magic, magic);
    StoreLe(cmd->dst_queue, dst);
    StoreLe(cmd->len, len);
    StoreLe(cmd->seq, 9u);
    StoreLe(rep->magic, 0u);
    return echo.Handle(*src, doorbell);
  };
  std::memset(cmd + 1, 0x0f, 8);
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 5, 8, WAVE_ECHO_DOORBELL), static_cast<int>(WAVE_ECHO_OK));
  EXPECT_EQ(LoadLe(rep->magic), WAVE_ECHO_REPLY_MAGIC);
  EXPECT_EQ(reinterpret_cast<uint8_t*>(rep + 1)[7], 0xf0);
  EXPECT_EQ(t_.TakeIrqs(2), 1u);
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 5, 8, 0), -1);  // not an echo doorbell
  EXPECT_EQ(send(0, 5, 8, WAVE_ECHO_DOORBELL), static_cast<int>(WAVE_ECHO_EBADCMD));
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 5, 4096 - 16 + 1, WAVE_ECHO_DOORBELL),
            static_cast<int>(WAVE_ECHO_EBADLEN));
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 5, 4096 - 16, WAVE_ECHO_DOORBELL),
            static_cast<int>(WAVE_ECHO_OK));
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 6, 8, WAVE_ECHO_DOORBELL), -1);  // dst not RAW
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 4, 8, WAVE_ECHO_DOORBELL), -1);  // dst is host-to-NIC
  EXPECT_EQ(send(WAVE_ECHO_CMD_MAGIC, 99, 8, WAVE_ECHO_DOORBELL), -1);
  EXPECT_EQ(LoadLe(rep->magic), 0u);
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::echo_ok), 2u);
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::echo_bad_cmd), 1u);
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::echo_bad_len), 1u);
  EXPECT_EQ(link_.stats().Get(&wave_link_stats::echo_bad_dst), 3u);
}

}  // namespace
}  // namespace wave::nic
