// wave-nicd on the emulated link under faults: garbage queue descriptors and bytes, extra,
// silent and chatty clients, signals, and BAR files and sockets left by earlier runs.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "nicd_ivshmem_fixture.h"

namespace wave::nicd::testing {
namespace {

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
  host.SetQueue(12, 0x40000, 0, h2n, raw, 0, wc);       // empty
  host.SetQueue(13, 0x50000, 0x1000, h2n, raw, 0, wc);  // ok
  nic::StoreLe(host.control()->queues[14].state, 77u);  // unknown state
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
      nic::StoreLe(host.control()->queues[id].state, WAVE_QSTATE_ACTIVE);
      nic::StoreLe(host.control()->queues[id].offset, (rng() % 300) * 0x1000);
      nic::StoreLe(host.control()->queues[id].size, (rng() % 4) * 0x1000);
      nic::StoreLe(host.control()->queues[id].kind, static_cast<uint16_t>(rng() % 5));
      nic::StoreLe(host.control()->queues[id].dir, static_cast<uint16_t>(rng() % 3));
      nic::StoreLe(host.control()->queues[id].cache_mode, static_cast<uint16_t>(rng() % 6));
      nic::StoreLe(host.control()->queues[id].vector, static_cast<uint16_t>(rng() % 10));
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
  EXPECT_EQ(nic::LoadLe(host.control()->nic_state), WAVE_NIC_STATE_OFF);
  EXPECT_GE(client.WaitIrq(WAVE_ADMIN_VECTOR, milliseconds(100)), 1u);
  EXPECT_TRUE(client.WaitClosed(milliseconds(3000)));
  EXPECT_FALSE(Exists(dir_.File("nic.sock")));
  EXPECT_FALSE(Exists(dir_.File("bar")));
  EXPECT_FALSE(Exists(dir_.File("nicd.pid")));
  // The heartbeat stopped.
  uint64_t beat = nic::LoadLe(host.control()->heartbeat);
  std::this_thread::sleep_for(milliseconds(5));
  EXPECT_EQ(nic::LoadLe(host.control()->heartbeat), beat);
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
  EXPECT_EQ(nic::ConsumeLe(host.control()->magic), WAVE_ABI_MAGIC);
  // Stale contents are gone: no ghost queues, a clean queue area.
  EXPECT_EQ(nic::LoadLe(host.control()->queues[0].state), WAVE_QSTATE_FREE);
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

}  // namespace
}  // namespace wave::nicd::testing
