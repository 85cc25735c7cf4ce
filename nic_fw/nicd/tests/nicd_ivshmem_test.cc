// wave-nicd end to end on the emulated link: the test plays QEMU (an ivshmem client) and
// wave.ko (it writes the queue table and rings doorbells through the shared memory) against
// the real wave-nicd binary.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fake_host.h"
#include "ivshmem_test_client.h"
#include "link/shared_word.h"
#include "nicd_process.h"
#include "wave_diag.h"

namespace wave::nicd::testing {
namespace {

using link::testing::IvshmemTestClient;
using std::chrono::milliseconds;

constexpr uint32_t kVectors = 8;
constexpr uint64_t kBarSize = 1ull << 20;
// The echo queues the tests create: a RAW host-to-NIC queue on vector 1 and a RAW
// NIC-to-host queue on vector 2.
constexpr uint32_t kSrcQueue = 3;
constexpr uint32_t kDstQueue = 5;
constexpr uint64_t kSrcOff = 0x4000;
constexpr uint64_t kSrcSize = 0x2000;
constexpr uint64_t kDstOff = 0x8000;
constexpr uint64_t kDstSize = 0x2000;
constexpr uint32_t kSrcVector = 1;
constexpr uint32_t kDstVector = 2;

bool WaitFor(const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

bool Exists(const std::string& path) {
  struct stat st {};
  return lstat(path.c_str(), &st) == 0;
}

struct EchoResult {
  uint32_t magic = 0;
  uint32_t status = 0;
  uint32_t len = 0;
  uint32_t seq = 0;
  std::vector<uint8_t> payload;
  uint64_t irqs = 0;
};

class NicdTest : public ::testing::Test {
 protected:
  std::vector<std::string> BaseArgs() {
    return {"--socket", dir_.File("nic.sock"), "--shm", dir_.File("bar"), "--bar-size",
            "1M",       "--heartbeat-us",      "200",   "--pidfile",      dir_.File("nicd.pid")};
  }

  void StartNicd(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = BaseArgs();
    args.insert(args.end(), extra.begin(), extra.end());
    ASSERT_TRUE(nicd_.Start(args)) << "exit status " << nicd_.exit_status();
  }

  void Connect(IvshmemTestClient& client, uint32_t vectors = kVectors) {
    ASSERT_TRUE(client.Connect(dir_.File("nic.sock")).ok());
    link::Status st = client.Handshake(vectors, milliseconds(5000));
    ASSERT_TRUE(st.ok()) << st.message();
  }

  // Creates the echo queues as wave.ko would and rings the admin vector.
  void CreateEchoQueues(IvshmemTestClient& client) {
    FakeHost host(client.shm());
    uint64_t scans = host.Stat(&wave_link_stats::queue_table_scans);
    host.SetQueue(kSrcQueue, kSrcOff, kSrcSize, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_RAW, kSrcVector,
                  WAVE_CACHE_WC);
    host.SetQueue(kDstQueue, kDstOff, kDstSize, WAVE_DIR_NIC_TO_HOST, WAVE_QKIND_RAW, kDstVector,
                  WAVE_CACHE_WT);
    host.BumpTableGen();
    ASSERT_TRUE(client.Ring(0, WAVE_ADMIN_VECTOR));
    // A scan already under way may count before ours: wait for one that saw both queues.
    ASSERT_TRUE(WaitFor([&] {
      return host.Stat(&wave_link_stats::queue_table_scans) > scans &&
             host.Stat(&wave_link_stats::active_queues) == 2;
    }));
  }

  // Sends one echo command (header fields as given) and collects the reply, if any.
  EchoResult Echo(IvshmemTestClient& client, uint32_t magic, uint32_t dst, uint32_t len,
                  uint32_t seq, const std::vector<uint8_t>& payload,
                  milliseconds timeout = milliseconds(5000)) {
    FakeHost host(client.shm());
    auto* reply = reinterpret_cast<wave_echo_reply*>(host.Region(kDstOff));
    link::StoreLe(reply->magic, 0u);
    auto* cmd = reinterpret_cast<wave_echo_cmd*>(host.Region(kSrcOff));
    std::memcpy(host.Region(kSrcOff) + sizeof(wave_echo_cmd), payload.data(), payload.size());
    link::StoreLe(cmd->dst_queue, dst);
    link::StoreLe(cmd->len, len);
    link::StoreLe(cmd->seq, seq);
    link::PublishLe(cmd->magic, magic);
    host.SetDoorbellWord(kSrcQueue, WAVE_ECHO_DOORBELL);
    client.Ring(0, kSrcVector);

    EchoResult r;
    r.irqs = client.WaitIrq(kDstVector, timeout);
    r.magic = link::ConsumeLe(reply->magic);
    r.status = link::LoadLe(reply->status);
    r.len = link::LoadLe(reply->len);
    r.seq = link::LoadLe(reply->seq);
    if (r.magic == WAVE_ECHO_REPLY_MAGIC && r.len <= kDstSize - sizeof(wave_echo_reply)) {
      const auto* p = reinterpret_cast<const uint8_t*>(host.Region(kDstOff) + sizeof(*reply));
      r.payload.assign(p, p + r.len);
    }
    return r;
  }

  EchoResult GoodEcho(IvshmemTestClient& client, uint32_t seq, const std::vector<uint8_t>& data) {
    return Echo(client, WAVE_ECHO_CMD_MAGIC, kDstQueue, static_cast<uint32_t>(data.size()), seq,
                data);
  }

  static void ExpectInverted(const std::vector<uint8_t>& sent, const EchoResult& r) {
    ASSERT_EQ(r.payload.size(), sent.size());
    for (size_t i = 0; i < sent.size(); ++i) {
      ASSERT_EQ(r.payload[i], static_cast<uint8_t>(~sent[i])) << "byte " << i;
    }
  }

  TempDir dir_;
  NicdProcess nicd_;
};

TEST_F(NicdTest, GreetingFollowsTheIvshmemProtocol) {
  StartNicd();
  EXPECT_EQ(nicd_.ReadyField("socket"), dir_.File("nic.sock"));
  EXPECT_EQ(nicd_.ReadyField("shm"), dir_.File("bar"));
  IvshmemTestClient client;
  Connect(client);
  EXPECT_EQ(client.version(), 0);
  EXPECT_EQ(client.id(), 1);  // the NIC is peer 0; the first client gets 1
  EXPECT_EQ(client.shm_size(), kBarSize);
  ASSERT_EQ(client.peers().size(), 1u);
  ASSERT_EQ(client.peers().count(0), 1u);
  EXPECT_EQ(client.peers().at(0).size(), kVectors);
  EXPECT_EQ(client.own_vectors(), kVectors);
  // Nothing else follows the greeting.
  EXPECT_TRUE(client.ReadNotices(milliseconds(50)).empty());
}

TEST_F(NicdTest, ControlPageIsPublished) {
  StartNicd({"--vectors", "8"});
  IvshmemTestClient client;
  Connect(client);
  FakeHost host(client.shm());
  const wave_control_page* cp = host.control();
  EXPECT_EQ(link::ConsumeLe(cp->magic), WAVE_ABI_MAGIC);
  EXPECT_EQ(link::LoadLe(cp->abi_major), WAVE_ABI_MAJOR);
  EXPECT_EQ(link::LoadLe(cp->abi_minor), WAVE_ABI_MINOR);
  EXPECT_EQ(link::LoadLe(cp->features), WAVE_FEAT_HEARTBEAT | WAVE_FEAT_DOORBELL_IRQ);
  EXPECT_EQ(link::LoadLe(cp->bar_size), kBarSize);
  EXPECT_EQ(link::LoadLe(cp->heartbeat_period_us), 200u);
  EXPECT_EQ(link::LoadLe(cp->nic_state), WAVE_NIC_STATE_READY);
  EXPECT_EQ(link::LoadLe(cp->nic_peer_id), 0u);
  EXPECT_EQ(link::LoadLe(cp->nr_vectors), kVectors);
  EXPECT_EQ(link::LoadLe(host.stats()->magic), WAVE_LINK_STATS_MAGIC);
  EXPECT_EQ(link::LoadLe(host.stats()->size), sizeof(wave_link_stats));
  EXPECT_EQ(host.Stat(&wave_link_stats::hosts_connected), 1u);
  // The heartbeat moves.
  uint64_t beat = link::LoadLe(cp->heartbeat);
  EXPECT_TRUE(WaitFor([&] { return link::LoadLe(cp->heartbeat) >= beat + 5; }));
}

TEST_F(NicdTest, EchoCrossesBothWaysAndInterrupts) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  CreateEchoQueues(client);
  FakeHost host(client.shm());
  uint64_t doorbells = link::LoadLe(host.control()->nic_doorbells);
  uint64_t irqs = link::LoadLe(host.control()->nic_irqs_raised);

  std::vector<uint8_t> data(3000);
  for (size_t i = 0; i < data.size(); ++i) {
    data[i] = static_cast<uint8_t>(i * 7 + 1);
  }
  EchoResult r = GoodEcho(client, 42, data);
  EXPECT_GE(r.irqs, 1u);
  EXPECT_EQ(r.magic, WAVE_ECHO_REPLY_MAGIC);
  EXPECT_EQ(r.status, WAVE_ECHO_OK);
  EXPECT_EQ(r.seq, 42u);
  ExpectInverted(data, r);
  EXPECT_GT(link::LoadLe(host.control()->nic_doorbells), doorbells);
  EXPECT_GT(link::LoadLe(host.control()->nic_irqs_raised), irqs);
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_ok), 1u);
  EXPECT_GE(link::LoadLe(host.stats()->doorbells[kSrcVector]), 1u);
  EXPECT_GE(link::LoadLe(host.stats()->irqs[kDstVector]), 1u);

  // A payload that exactly fills the destination after the reply header.
  std::vector<uint8_t> full(kDstSize - sizeof(wave_echo_reply), 0x5a);
  r = GoodEcho(client, 43, full);
  EXPECT_EQ(r.status, WAVE_ECHO_OK);
  ExpectInverted(full, r);
}

// Round trips of a 64-byte echo, doorbell to interrupt, through the real binary. Prints the
// mean for the report; fails only if echoes go missing.
TEST_F(NicdTest, EchoRoundTripLatency) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  CreateEchoQueues(client);
  std::vector<uint8_t> data(64, 0xa5);
  constexpr int kRounds = 2000;
  auto t0 = std::chrono::steady_clock::now();
  for (int i = 0; i < kRounds; ++i) {
    EchoResult r = GoodEcho(client, static_cast<uint32_t>(i), data);
    ASSERT_EQ(r.magic, WAVE_ECHO_REPLY_MAGIC) << "round " << i;
    ASSERT_EQ(r.seq, static_cast<uint32_t>(i));
  }
  double us =
      std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count() /
      kRounds;
  std::printf(
      "echo round trip (64 B, eventfd doorbell -> eventfd interrupt): %.1f us mean over %d\n", us,
      kRounds);
  RecordProperty("echo_round_trip_us", std::to_string(us));
}

TEST_F(NicdTest, BadEchoCommandsAreCountedAndAnsweredWithTheReason) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  CreateEchoQueues(client);
  FakeHost host(client.shm());
  std::vector<uint8_t> data(16, 1);

  EchoResult r = Echo(client, 0xdeadbeef, kDstQueue, 16, 7, data);
  EXPECT_EQ(r.magic, WAVE_ECHO_REPLY_MAGIC);
  EXPECT_EQ(r.status, WAVE_ECHO_EBADCMD);
  EXPECT_EQ(r.len, 0u);
  EXPECT_EQ(r.seq, 7u);
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_bad_cmd), 1u);

  // Longer than the source queue, longer than the destination, and the largest u32.
  for (uint32_t len :
       {static_cast<uint32_t>(kSrcSize), static_cast<uint32_t>(kDstSize - 15), 0xffffffffu}) {
    r = Echo(client, WAVE_ECHO_CMD_MAGIC, kDstQueue, len, 8, data);
    EXPECT_EQ(r.status, WAVE_ECHO_EBADLEN) << len;
    EXPECT_EQ(r.len, 0u);
  }
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_bad_len), 3u);

  // Destinations that are no RAW NIC-to-host queue: counted, nothing written, no interrupt.
  // Each waits until counted: doorbells rung faster than the NIC reads them fold into one.
  uint64_t bad_dst = 0;
  for (uint32_t dst : {kSrcQueue, 0u, 31u, 32u, 0xffffffffu}) {
    r = Echo(client, WAVE_ECHO_CMD_MAGIC, dst, 16, 9, data, milliseconds(0));
    ++bad_dst;
    EXPECT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::echo_bad_dst) == bad_dst; }))
        << dst;
    EXPECT_EQ(client.WaitIrq(kDstVector, milliseconds(5)), 0u) << dst;
    EXPECT_EQ(link::LoadLe(reinterpret_cast<wave_echo_reply*>(host.Region(kDstOff))->magic), 0u)
        << dst;
  }

  // A doorbell word other than WAVE_ECHO_DOORBELL is not an echo request.
  host.SetDoorbellWord(kSrcQueue, 12345);
  client.Ring(0, kSrcVector);
  EXPECT_EQ(client.WaitIrq(kDstVector, milliseconds(30)), 0u);

  // The service still works.
  r = GoodEcho(client, 10, data);
  EXPECT_EQ(r.status, WAVE_ECHO_OK);
  ExpectInverted(data, r);
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_ok), 1u);
}

TEST_F(NicdTest, GarbageQueueDescsAreRejectedAndCounted) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  FakeHost host(client.shm());
  const uint16_t h2n = WAVE_DIR_HOST_TO_NIC;
  const uint16_t raw = WAVE_QKIND_RAW;
  const uint16_t wc = WAVE_CACHE_WC;
  host.SetQueue(0, 0x2000, 0x1000, h2n, raw, 0, wc);                   // ok
  host.SetQueue(1, 0x3001, 0x1000, h2n, raw, 0, wc);                   // misaligned offset
  host.SetQueue(2, 0x10000, 0x800, h2n, raw, 0, wc);                   // misaligned size
  host.SetQueue(3, 0x1000, 0x1000, h2n, raw, 0, wc);                   // the doorbell page
  host.SetQueue(4, kBarSize - 0x1000, 0x2000, h2n, raw, 0, wc);        // runs past the BAR
  host.SetQueue(5, 0xfffffffffffff000ull, 0x2000, h2n, raw, 0, wc);    // wraps around
  host.SetQueue(6, 0x20000, 0x1000, 7, raw, 0, wc);                    // bad direction
  host.SetQueue(7, 0x21000, 0x1000, h2n, 9, 0, wc);                    // bad kind
  host.SetQueue(8, 0x22000, 0x1000, h2n, raw, 0, WAVE_CACHE_DEFAULT);  // unresolved cache
  host.SetQueue(9, 0x23000, 0x1000, h2n, raw, 8, wc);                  // vector >= nr_vectors
  host.SetQueue(10, 0x30000, 0x3000, h2n, raw, 0, wc);                 // overlaps 11
  host.SetQueue(11, 0x32000, 0x1000, h2n, raw, 0, wc);
  host.SetQueue(12, 0x40000, 0, h2n, raw, 0, wc);        // empty
  host.SetQueue(13, 0x50000, 0x1000, h2n, raw, 0, wc);   // ok
  link::StoreLe(host.control()->queues[14].state, 77u);  // unknown state
  host.BumpTableGen();
  uint64_t scans = host.Stat(&wave_link_stats::queue_table_scans);
  ASSERT_TRUE(client.Ring(0, WAVE_ADMIN_VECTOR));
  ASSERT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::queue_table_scans) > scans; }));
  EXPECT_EQ(host.Stat(&wave_link_stats::active_queues), 2u);
  EXPECT_EQ(host.Stat(&wave_link_stats::bad_queue_descs), 13u);

  // Repairing the table makes the queues usable; the count of the new scan is added.
  for (uint32_t id = 1; id <= 14; ++id) {
    if (id != 13) {
      host.ClearQueue(id);
    }
  }
  host.BumpTableGen();
  scans = host.Stat(&wave_link_stats::queue_table_scans);
  ASSERT_TRUE(client.Ring(0, WAVE_ADMIN_VECTOR));
  ASSERT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::queue_table_scans) > scans; }));
  EXPECT_EQ(host.Stat(&wave_link_stats::active_queues), 2u);
  EXPECT_EQ(host.Stat(&wave_link_stats::bad_queue_descs), 13u);
}

// Random bytes over the queue table, the doorbell page and the queue area, doorbells on every
// vector: the NIC survives and, once the host writes a sane table again, serves echoes.
TEST_F(NicdTest, SurvivesRandomGarbage) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  FakeHost host(client.shm());
  std::mt19937_64 rng(20261121);
  for (int round = 0; round < 50; ++round) {
    auto* table = reinterpret_cast<uint8_t*>(host.control()->queues);
    for (size_t i = 0; i < sizeof(host.control()->queues); ++i) {
      table[i] = static_cast<uint8_t>(rng());
    }
    // Some descs look nearly right, so the deeper checks run too.
    for (uint32_t id = 0; id < WAVE_MAX_QUEUES; id += 3) {
      link::StoreLe(host.control()->queues[id].state, WAVE_QSTATE_ACTIVE);
      link::StoreLe(host.control()->queues[id].offset, (rng() % 300) * 0x1000);
      link::StoreLe(host.control()->queues[id].size, (rng() % 4) * 0x1000);
      link::StoreLe(host.control()->queues[id].kind, static_cast<uint16_t>(rng() % 5));
      link::StoreLe(host.control()->queues[id].dir, static_cast<uint16_t>(rng() % 3));
      link::StoreLe(host.control()->queues[id].cache_mode, static_cast<uint16_t>(rng() % 6));
      link::StoreLe(host.control()->queues[id].vector, static_cast<uint16_t>(rng() % 10));
    }
    for (uint32_t q = 0; q < WAVE_MAX_QUEUES; ++q) {
      host.SetDoorbellWord(q, rng() % 2 ? WAVE_ECHO_DOORBELL : static_cast<uint32_t>(rng()));
    }
    for (uint64_t off = WAVE_BAR_QUEUE_AREA_OFF; off < 0x12c000; off += 0x1000) {
      if (off + 16 <= kBarSize) {
        std::memset(host.Region(off), static_cast<int>(rng()), 16);
      }
    }
    host.BumpTableGen();
    for (uint32_t v = 0; v < kVectors; ++v) {
      client.Ring(0, v);
    }
  }
  // Let it chew through the doorbells, then check it is alive and correct.
  std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(nicd_.running());
  std::memset(host.control()->queues, 0, sizeof(host.control()->queues));
  CreateEchoQueues(client);
  client.ClearIrqs();
  std::vector<uint8_t> data(100, 0x33);
  EchoResult r = GoodEcho(client, 1, data);
  EXPECT_EQ(r.status, WAVE_ECHO_OK);
  ExpectInverted(data, r);
  EXPECT_GT(host.Stat(&wave_link_stats::bad_queue_descs), 0u);
}

TEST_F(NicdTest, SecondClientAndDisconnect) {
  StartNicd();
  IvshmemTestClient a;
  Connect(a);
  IvshmemTestClient b;
  Connect(b);
  EXPECT_EQ(b.id(), 2);
  // b learns of the NIC and of a, each with a full set of eventfds.
  ASSERT_EQ(b.peers().size(), 2u);
  EXPECT_EQ(b.peers().at(0).size(), kVectors);
  EXPECT_EQ(b.peers().at(1).size(), kVectors);
  // a is told b connected, with b's eventfds.
  auto notices = a.ReadNotices(milliseconds(3000));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].peer, 2);
  EXPECT_TRUE(notices[0].connected);
  ASSERT_EQ(a.peers().count(2), 1u);
  EXPECT_EQ(a.peers().at(2).size(), kVectors);
  // Clients can ring each other with the fds the server handed out.
  ASSERT_TRUE(a.Ring(2, 3));
  EXPECT_EQ(b.WaitIrq(3, milliseconds(3000)), 1u);

  FakeHost host(a.shm());
  EXPECT_EQ(host.Stat(&wave_link_stats::hosts_connected), 2u);
  // Both see the NIC's interrupts.
  CreateEchoQueues(a);
  std::vector<uint8_t> data(8, 9);
  EchoResult r = GoodEcho(a, 5, data);
  EXPECT_EQ(r.status, WAVE_ECHO_OK);
  EXPECT_GE(b.WaitIrq(kDstVector, milliseconds(3000)), 1u);

  b.Close();
  notices = a.ReadNotices(milliseconds(3000));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].peer, 2);
  EXPECT_FALSE(notices[0].connected);
  EXPECT_EQ(a.peers().count(2), 0u);
  EXPECT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::hosts_connected) == 1; }));

  // A new client gets a fresh id, not the one that just left.
  IvshmemTestClient c;
  Connect(c);
  EXPECT_EQ(c.id(), 3);
}

TEST_F(NicdTest, ClientThatTalksIsDropped) {
  StartNicd();
  IvshmemTestClient a;
  Connect(a);
  IvshmemTestClient b;
  Connect(b);
  ASSERT_EQ(a.ReadNotices(milliseconds(3000)).size(), 1u);  // b connected
  // The protocol is one-way; a client that writes is in error.
  ASSERT_EQ(write(b.socket(), "hello", 5), 5);
  EXPECT_TRUE(b.WaitClosed(milliseconds(5000)));
  auto notices = a.ReadNotices(milliseconds(3000));
  ASSERT_EQ(notices.size(), 1u);
  EXPECT_EQ(notices[0].peer, 2);
  EXPECT_FALSE(notices[0].connected);
  FakeHost host(a.shm());
  EXPECT_EQ(host.Stat(&wave_link_stats::host_errors), 1u);
}

TEST_F(NicdTest, TooManyClientsAreRefused) {
  // Two vectors keep the eventfds this process collects from 16 peers well under its limit.
  StartNicd({"--vectors", "2"});
  std::vector<IvshmemTestClient> clients(16);
  for (auto& c : clients) {
    Connect(c, 2);
  }
  IvshmemTestClient extra;
  ASSERT_TRUE(extra.Connect(dir_.File("nic.sock")).ok());
  EXPECT_FALSE(extra.Handshake(2, milliseconds(5000)).ok());
  FakeHost host(clients[0].shm());
  EXPECT_EQ(host.Stat(&wave_link_stats::hosts_refused), 1u);
  EXPECT_TRUE(nicd_.running());
}

TEST_F(NicdTest, SigtermStopsCleanly) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  FakeHost host(client.shm());
  ASSERT_TRUE(Exists(dir_.File("nic.sock")));
  ASSERT_TRUE(Exists(dir_.File("bar")));
  std::ifstream pidfile(dir_.File("nicd.pid"));
  pid_t pid = 0;
  pidfile >> pid;
  EXPECT_EQ(pid, nicd_.pid());
  client.ClearIrqs();

  EXPECT_EQ(nicd_.Stop(SIGTERM), 0);
  // Our mapping outlives the file: the NIC said it went away, and told us on the admin vector.
  EXPECT_EQ(link::LoadLe(host.control()->nic_state), WAVE_NIC_STATE_OFF);
  EXPECT_GE(client.WaitIrq(WAVE_ADMIN_VECTOR, milliseconds(100)), 1u);
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  EXPECT_FALSE(Exists(dir_.File("nic.sock")));
  EXPECT_FALSE(Exists(dir_.File("bar")));
  EXPECT_FALSE(Exists(dir_.File("nicd.pid")));
  // The heartbeat stopped.
  uint64_t beat = link::LoadLe(host.control()->heartbeat);
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(link::LoadLe(host.control()->heartbeat), beat);
}

TEST_F(NicdTest, SigintStopsCleanlyWithDefaultShmPath) {
  ASSERT_TRUE(nicd_.Start({"--socket", dir_.File("nic.sock"), "--bar-size", "64K"}));
  std::string shm = nicd_.ReadyField("shm");
  EXPECT_EQ(shm, "/dev/shm/wave-nic-" + std::to_string(nicd_.pid()));
  EXPECT_TRUE(Exists(shm));
  EXPECT_EQ(nicd_.Stop(SIGINT), 0);
  EXPECT_FALSE(Exists(shm));
  EXPECT_FALSE(Exists(dir_.File("nic.sock")));
}

TEST_F(NicdTest, ReusesAnExistingShmFileAndKeepsIt) {
  std::string bar = dir_.File("bar");
  {
    std::ofstream f(bar, std::ios::binary);
    std::string junk(kBarSize, '\xff');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  FakeHost host(client.shm());
  EXPECT_EQ(link::ConsumeLe(host.control()->magic), WAVE_ABI_MAGIC);
  // Stale contents are gone: no ghost queues, a clean queue area.
  EXPECT_EQ(link::LoadLe(host.control()->queues[0].state), WAVE_QSTATE_FREE);
  EXPECT_EQ(host.Stat(&wave_link_stats::active_queues), 0u);
  EXPECT_EQ(*reinterpret_cast<uint8_t*>(host.Region(kBarSize - 1)), 0u);
  EXPECT_EQ(nicd_.Stop(SIGTERM), 0);
  EXPECT_TRUE(Exists(bar));  // not ours to remove
}

TEST_F(NicdTest, RefusesAShmFileOfTheWrongSize) {
  std::string bar = dir_.File("bar");
  {
    std::ofstream f(bar, std::ios::binary);
    f << "short";
  }
  std::string err;
  EXPECT_EQ(NicdProcess::RunToExit({"--socket", dir_.File("nic.sock"), "--shm", bar}, &err), 1);
  EXPECT_NE(err.find("bytes, BAR size is"), std::string::npos) << err;
  EXPECT_TRUE(Exists(bar));
}

TEST_F(NicdTest, ReplacesAStaleSocketButNotALiveOne) {
  StartNicd();
  // A second server on the same socket is refused while the first lives.
  std::string err;
  EXPECT_EQ(
      NicdProcess::RunToExit({"--socket", dir_.File("nic.sock"), "--shm", dir_.File("b2")}, &err),
      1);
  EXPECT_NE(err.find("another server"), std::string::npos) << err;
  // Killed without cleanup, the first leaves its socket behind; the next server takes over.
  EXPECT_EQ(nicd_.Stop(SIGKILL), 128 + SIGKILL);
  ASSERT_TRUE(Exists(dir_.File("nic.sock")));
  unlink(dir_.File("bar").c_str());
  NicdProcess second;
  ASSERT_TRUE(second.Start(BaseArgs()));
  IvshmemTestClient client;
  ASSERT_TRUE(client.Connect(dir_.File("nic.sock")).ok());
  EXPECT_TRUE(client.Handshake(kVectors, milliseconds(5000)).ok());
  EXPECT_EQ(second.Stop(SIGTERM), 0);
}

TEST(NicdFlags, BadInputExitsWithUsage) {
  TempDir dir;
  std::string sock = dir.File("s");
  const std::vector<std::vector<std::string>> bad = {
      {},
      {"--bogus"},
      {"--socket"},
      {"--socket", sock, "--device", "/dev/wave0"},
      {"--socket", sock, "--vectors", "0"},
      {"--socket", sock, "--vectors", "9"},
      {"--socket", sock, "--vectors", "2x"},
      {"--socket", sock, "--vectors", "-1"},
      {"--socket", sock, "--bar-size", "3M"},
      {"--socket", sock, "--bar-size", "4K"},
      {"--socket", sock, "--bar-size", "lots"},
      {"--socket", sock, "--heartbeat-us", "0"},
      {"--socket", sock, "--heartbeat-us", "99999999999"},
      {"--socket="},
      {"--device", "/dev/wave0", "--shm", "/dev/shm/x"},
  };
  for (const auto& args : bad) {
    std::string err;
    EXPECT_EQ(NicdProcess::RunToExit(args, &err), 2) << ::testing::PrintToString(args);
    EXPECT_NE(err.find("usage: wave-nicd"), std::string::npos) << err;
  }
  std::string err;
  EXPECT_EQ(NicdProcess::RunToExit({"--help"}, &err), 0);
}

TEST(NicdLoopback, MissingDeviceIsAClearError) {
  std::string err;
  EXPECT_EQ(NicdProcess::RunToExit({"--device", "/nonexistent/wave9"}, &err), 1);
  EXPECT_NE(err.find("/nonexistent/wave9"), std::string::npos) << err;
}

TEST(NicdLoopback, RefusesANonWaveDevice) {
  std::string err;
  // /dev/null answers the ioctl with ENOTTY: not a wave device.
  EXPECT_EQ(NicdProcess::RunToExit({"--device", "/dev/null"}, &err), 1);
  EXPECT_NE(err.find("WAVE_IOC_GET_INFO"), std::string::npos) << err;
}

}  // namespace
}  // namespace wave::nicd::testing
