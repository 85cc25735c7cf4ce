// The fixture of the wave-nicd tests over the emulated link: the test plays QEMU (an ivshmem
// client) and wave.ko (it writes the queue table and rings doorbells through the shared memory)
// against the real wave-nicd binary.
#ifndef WAVE_NIC_FW_NICD_TESTS_NICD_IVSHMEM_FIXTURE_H_
#define WAVE_NIC_FW_NICD_TESTS_NICD_IVSHMEM_FIXTURE_H_

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

#include "base/shared_word.h"
#include "fake_host.h"
#include "ivshmem_test_client.h"
#include "nicd_process.h"
#include "wave_diag.h"

namespace wave::nicd::testing {

using nic::emu::testing::IvshmemTestClient;
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

inline bool WaitFor(const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(200));
  }
  return true;
}

inline bool Exists(const std::string& path) {
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
    nic::Status st = client.Handshake(vectors, milliseconds(5000));
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
    nic::StoreLe(reply->magic, 0u);
    auto* cmd = reinterpret_cast<wave_echo_cmd*>(host.Region(kSrcOff));
    std::memcpy(host.Region(kSrcOff) + sizeof(wave_echo_cmd), payload.data(), payload.size());
    nic::StoreLe(cmd->dst_queue, dst);
    nic::StoreLe(cmd->len, len);
    nic::StoreLe(cmd->seq, seq);
    nic::PublishLe(cmd->magic, magic);
    host.SetDoorbellWord(kSrcQueue, WAVE_ECHO_DOORBELL);
    client.Ring(0, kSrcVector);

    EchoResult r;
    r.irqs = client.WaitIrq(kDstVector, timeout);
    r.magic = nic::ConsumeLe(reply->magic);
    r.status = nic::LoadLe(reply->status);
    r.len = nic::LoadLe(reply->len);
    r.seq = nic::LoadLe(reply->seq);
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

}  // namespace wave::nicd::testing

#endif  // WAVE_NIC_FW_NICD_TESTS_NICD_IVSHMEM_FIXTURE_H_
