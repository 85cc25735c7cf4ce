// wave-nicd on the emulated link: the ivshmem protocol, the control page, the echo service
// (good and bad commands), command-line errors and the on-host transport's refusals.
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
  EXPECT_EQ(nic::ConsumeLe(cp->magic), WAVE_ABI_MAGIC);
  EXPECT_EQ(nic::LoadLe(cp->abi_major), WAVE_ABI_MAJOR);
  EXPECT_EQ(nic::LoadLe(cp->abi_minor), WAVE_ABI_MINOR);
  EXPECT_EQ(nic::LoadLe(cp->features), WAVE_FEAT_HEARTBEAT | WAVE_FEAT_DOORBELL_IRQ);
  EXPECT_EQ(nic::LoadLe(cp->bar_size), kBarSize);
  EXPECT_EQ(nic::LoadLe(cp->heartbeat_period_us), 200u);
  EXPECT_EQ(nic::LoadLe(cp->nic_state), WAVE_NIC_STATE_READY);
  EXPECT_EQ(nic::LoadLe(cp->nic_peer_id), 0u);
  EXPECT_EQ(nic::LoadLe(cp->nr_vectors), kVectors);
  EXPECT_EQ(nic::LoadLe(host.stats()->magic), WAVE_LINK_STATS_MAGIC);
  EXPECT_EQ(nic::LoadLe(host.stats()->size), sizeof(wave_link_stats));
  EXPECT_EQ(host.Stat(&wave_link_stats::hosts_connected), 1u);
  // The heartbeat moves.
  uint64_t beat = nic::LoadLe(cp->heartbeat);
  EXPECT_TRUE(WaitFor([&] { return nic::LoadLe(cp->heartbeat) >= beat + 5; }));
}

TEST_F(NicdTest, EchoCrossesBothWaysAndInterrupts) {
  StartNicd();
  IvshmemTestClient client;
  Connect(client);
  CreateEchoQueues(client);
  FakeHost host(client.shm());
  uint64_t doorbells = nic::LoadLe(host.control()->nic_doorbells);
  uint64_t irqs = nic::LoadLe(host.control()->nic_irqs_raised);

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
  EXPECT_GT(nic::LoadLe(host.control()->nic_doorbells), doorbells);
  EXPECT_GT(nic::LoadLe(host.control()->nic_irqs_raised), irqs);
  EXPECT_EQ(host.Stat(&wave_link_stats::echo_ok), 1u);
  EXPECT_GE(nic::LoadLe(host.stats()->doorbells[kSrcVector]), 1u);
  EXPECT_GE(nic::LoadLe(host.stats()->irqs[kDstVector]), 1u);

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
    EXPECT_EQ(nic::LoadLe(reinterpret_cast<wave_echo_reply*>(host.Region(kDstOff))->magic), 0u)
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
