// The emulated PCIe function held apart from its firmware: the real wave-nic-function and
// wave-nicd --attach binaries, with the test playing QEMU (an ivshmem client that stays
// connected throughout) and wave.ko (queue descriptors written through the shared memory).
// Also the firmware's checks of what a holder hands it, against fake holders in-process.
#include <endian.h>
#include <poll.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "base/shared_word.h"
#include "fake_host.h"
#include "ivshmem_test_client.h"
#include "nic-emu/function_options.h"
#include "nic-emu/function_protocol.h"
#include "nic-emu/held_function.h"
#include "nic-emu/unix_socket.h"
#include "nicd_process.h"

namespace wave::nicd::testing {
namespace {

using nic::emu::testing::IvshmemTestClient;
using std::chrono::milliseconds;

constexpr uint32_t kVectors = 4;
constexpr uint64_t kBarSize = 1ull << 20;

bool WaitFor(const std::function<bool()>& done, milliseconds timeout = milliseconds(5000)) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  return true;
}

nic::UniqueFd ConnectSeqpacket(const std::string& path) {
  sockaddr_un addr;
  if (!nic::emu::MakeUnixAddress(path, &addr).ok()) {
    return {};
  }
  nic::UniqueFd fd(socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd || connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) < 0) {
    return {};
  }
  return fd;
}

// True if the peer closed `fd` within `timeout` (what the holder does to a bad request).
bool ClosedByPeer(int fd, milliseconds timeout) {
  timeval tv{static_cast<time_t>(timeout.count() / 1000),
             static_cast<suseconds_t>((timeout.count() % 1000) * 1000)};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  char buf[64];
  ssize_t n = recv(fd, buf, sizeof(buf), 0);
  if (n != 0) {
    std::fprintf(stderr, "ClosedByPeer: recv %zd errno %d\n", n, errno);
  }
  return n == 0;
}

class FunctionTest : public ::testing::Test {
 protected:
  FunctionTest() : holder_(WAVE_NIC_FUNCTION_PATH, "wave-nic-function: ready ") {}

  void SetUp() override {
    ASSERT_TRUE(holder_.Start({"--socket", dir_.File("nic.sock"), "--firmware",
                               dir_.File("fw.sock"), "--shm", dir_.File("bar"), "--bar-size", "1M",
                               "--vectors", std::to_string(kVectors)}))
        << "exit status " << holder_.exit_status();
    ASSERT_TRUE(qemu_.Connect(dir_.File("nic.sock")).ok());
    nic::Status st = qemu_.Handshake(kVectors, milliseconds(5000));
    ASSERT_TRUE(st.ok()) << st.message();
  }

  std::vector<std::string> FirmwareArgs() {
    return {"--attach", dir_.File("fw.sock"), "--heartbeat-us", "200", "--sched-agent", "off"};
  }

  void StartFirmware(NicdProcess& fw) {
    ASSERT_TRUE(fw.Start(FirmwareArgs())) << "exit status " << fw.exit_status();
  }

  const wave_control_page* control() const { return FakeHost(qemu_.shm()).control(); }
  uint64_t Heartbeat() const { return nic::LoadLe(control()->heartbeat); }
  bool HeartbeatMoves() const {
    const uint64_t beat = Heartbeat();
    return WaitFor([&] { return Heartbeat() >= beat + 5; });
  }
  bool ReadyAndBeating() const {
    return nic::ConsumeLe(control()->magic) == WAVE_ABI_MAGIC &&
           nic::LoadLe(control()->nic_state) == WAVE_NIC_STATE_READY && HeartbeatMoves();
  }

  TempDir dir_;
  NicdProcess holder_;
  IvshmemTestClient qemu_;
};

TEST_F(FunctionTest, FirmwareAttachesAndServesTheHost) {
  NicdProcess fw;
  StartFirmware(fw);
  EXPECT_EQ(fw.ReadyField("function"), dir_.File("fw.sock"));
  EXPECT_EQ(fw.ReadyField("lease"), "1");
  EXPECT_EQ(fw.ReadyField("vectors"), std::to_string(kVectors));
  EXPECT_EQ(fw.ReadyField("bar"), std::to_string(kBarSize));
  ASSERT_TRUE(ReadyAndBeating());
  EXPECT_EQ(nic::LoadLe(control()->nr_vectors), kVectors);
  EXPECT_EQ(nic::LoadLe(control()->bar_size), kBarSize);

  // Doorbells: the host rings peer 0 through the eventfds the holder gave QEMU; the firmware
  // reads the same eventfds.
  const uint64_t doorbells = nic::LoadLe(control()->nic_doorbells);
  ASSERT_TRUE(qemu_.Ring(0, WAVE_ADMIN_VECTOR));
  EXPECT_TRUE(WaitFor([&] { return nic::LoadLe(control()->nic_doorbells) > doorbells; }));

  // Interrupts: a firmware that stops says so on the admin vector; the holder forwards it.
  qemu_.ClearIrqs();
  EXPECT_EQ(fw.Stop(SIGTERM), 0);
  EXPECT_GE(qemu_.WaitIrq(WAVE_ADMIN_VECTOR, milliseconds(5000)), 1u);
  EXPECT_EQ(nic::LoadLe(control()->nic_state), WAVE_NIC_STATE_OFF);
  // QEMU never noticed: no disconnect, nothing on its socket.
  EXPECT_TRUE(qemu_.ReadNotices(milliseconds(50)).empty());
  EXPECT_TRUE(holder_.running());
}

TEST_F(FunctionTest, KilledFirmwareRestartsUnderALiveHost) {
  NicdProcess first;
  StartFirmware(first);
  ASSERT_TRUE(ReadyAndBeating());
  // The host's side of the BAR: a queue, as wave.ko would create it.
  FakeHost host(qemu_.shm());
  host.SetQueue(3, 0x4000, 0x2000, WAVE_DIR_HOST_TO_NIC, WAVE_QKIND_RAW, 1, WAVE_CACHE_WC);
  host.BumpTableGen();
  ASSERT_TRUE(qemu_.Ring(0, WAVE_ADMIN_VECTOR));
  ASSERT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::active_queues) == 1; }));

  EXPECT_EQ(first.Stop(SIGKILL), 128 + SIGKILL);
  // The heartbeat stops; nic_state still says READY (a crashed firmware says nothing).
  const uint64_t frozen = Heartbeat();
  std::this_thread::sleep_for(milliseconds(20));
  EXPECT_EQ(Heartbeat(), frozen);
  // The host rings while no firmware runs: the doorbell waits in the function.
  ASSERT_TRUE(qemu_.Ring(0, WAVE_ADMIN_VECTOR));

  NicdProcess second;
  StartFirmware(second);
  EXPECT_EQ(second.ReadyField("lease"), "2");
  // The new firmware re-published its control page (the heartbeat restarted from 0) and kept
  // the host's: the queue is still there and served.
  ASSERT_TRUE(ReadyAndBeating());
  EXPECT_EQ(nic::LoadLe(control()->queues[3].state), WAVE_QSTATE_ACTIVE);
  EXPECT_TRUE(WaitFor([&] { return host.Stat(&wave_link_stats::active_queues) == 1; }));
  EXPECT_TRUE(WaitFor([&] { return nic::LoadLe(control()->nic_doorbells) >= 1; }));

  // Doorbells and interrupts still flow through the connections QEMU made at the start.
  const uint64_t doorbells = nic::LoadLe(control()->nic_doorbells);
  ASSERT_TRUE(qemu_.Ring(0, WAVE_ADMIN_VECTOR));
  EXPECT_TRUE(WaitFor([&] { return nic::LoadLe(control()->nic_doorbells) > doorbells; }));
  qemu_.ClearIrqs();
  EXPECT_EQ(second.Stop(SIGTERM), 0);
  EXPECT_GE(qemu_.WaitIrq(WAVE_ADMIN_VECTOR, milliseconds(5000)), 1u);
  EXPECT_TRUE(qemu_.ReadNotices(milliseconds(50)).empty());
  EXPECT_TRUE(holder_.running());
}

TEST_F(FunctionTest, SecondFirmwareIsRefused) {
  NicdProcess first;
  StartFirmware(first);
  std::string err;
  EXPECT_EQ(NicdProcess::RunToExit(FirmwareArgs(), &err), 1);
  EXPECT_NE(err.find("another firmware holds the function"), std::string::npos) << err;
  // The first one is untouched.
  EXPECT_TRUE(first.running());
  EXPECT_TRUE(ReadyAndBeating());
  // A frozen firmware still holds its lease.
  kill(first.pid(), SIGSTOP);
  EXPECT_EQ(NicdProcess::RunToExit(FirmwareArgs(), &err), 1);
  kill(first.pid(), SIGCONT);
  EXPECT_TRUE(ReadyAndBeating());
}

TEST_F(FunctionTest, GarbageOnTheFirmwareSocketIsRefused) {
  // A packet that is not a request.
  {
    nic::UniqueFd s = ConnectSeqpacket(dir_.File("fw.sock"));
    ASSERT_TRUE(s.valid());
    const char junk[16] = "not a request!!";
    ASSERT_EQ(send(s.get(), junk, sizeof(junk), 0), static_cast<ssize_t>(sizeof(junk)));
    EXPECT_TRUE(ClosedByPeer(s.get(), milliseconds(5000)));
  }
  // A request that is too long, one with a wrong version, one that carries descriptors.
  {
    nic::UniqueFd s = ConnectSeqpacket(dir_.File("fw.sock"));
    ASSERT_TRUE(s.valid());
    std::vector<unsigned char> big(4096, 0xa5);
    ASSERT_EQ(send(s.get(), big.data(), big.size(), 0), static_cast<ssize_t>(big.size()));
    EXPECT_TRUE(ClosedByPeer(s.get(), milliseconds(5000)));
  }
  {
    nic::UniqueFd s = ConnectSeqpacket(dir_.File("fw.sock"));
    ASSERT_TRUE(s.valid());
    nic::emu::FunctionRequest req{};
    req.magic = htole32(nic::emu::kFunctionRequestMagic);
    req.version = htole16(nic::emu::kFunctionVersion + 1);
    ASSERT_TRUE(nic::emu::SendFunctionPacket(s.get(), &req, sizeof(req), {}).ok());
    EXPECT_TRUE(ClosedByPeer(s.get(), milliseconds(5000)));
  }
  {
    nic::UniqueFd s = ConnectSeqpacket(dir_.File("fw.sock"));
    ASSERT_TRUE(s.valid());
    nic::emu::FunctionRequest req{};
    req.magic = htole32(nic::emu::kFunctionRequestMagic);
    req.version = htole16(nic::emu::kFunctionVersion);
    nic::UniqueFd efd(eventfd(0, EFD_CLOEXEC));
    ASSERT_TRUE(nic::emu::SendFunctionPacket(s.get(), &req, sizeof(req), {efd.get()}).ok());
    EXPECT_TRUE(ClosedByPeer(s.get(), milliseconds(5000)));
  }
  // Connections that never ask do not block the function: more than the holder keeps.
  std::vector<nic::UniqueFd> idle;
  for (int i = 0; i < 8; ++i) {
    idle.push_back(ConnectSeqpacket(dir_.File("fw.sock")));
  }
  // A "firmware" that talks after its grant loses the lease.
  {
    nic::UniqueFd s = ConnectSeqpacket(dir_.File("fw.sock"));
    ASSERT_TRUE(s.valid());
    nic::emu::FunctionRequest req{};
    req.magic = htole32(nic::emu::kFunctionRequestMagic);
    req.version = htole16(nic::emu::kFunctionVersion);
    ASSERT_TRUE(nic::emu::SendFunctionPacket(s.get(), &req, sizeof(req), {}).ok());
    pollfd p{s.get(), POLLIN, 0};
    ASSERT_EQ(poll(&p, 1, 5000), 1);
    nic::emu::FunctionGrant grant{};
    size_t len = 0;
    std::vector<nic::UniqueFd> fds;
    std::string why;
    ASSERT_EQ(nic::emu::ReceiveFunctionPacket(s.get(), &grant, sizeof(grant), &len, &fds, &why),
              nic::emu::PacketResult::kPacket)
        << why;
    EXPECT_EQ(le16toh(grant.status), nic::emu::kFunctionGranted);
    EXPECT_EQ(fds.size(), 1 + 2 * kVectors);
    const char junk[8] = "chatter";
    ASSERT_EQ(send(s.get(), junk, sizeof(junk), 0), static_cast<ssize_t>(sizeof(junk)));
    EXPECT_TRUE(ClosedByPeer(s.get(), milliseconds(5000)));
  }
  // The holder is still there, and a real firmware attaches.
  EXPECT_TRUE(holder_.running());
  NicdProcess fw;
  StartFirmware(fw);
  EXPECT_EQ(fw.ReadyField("lease"), "2");
  EXPECT_TRUE(ReadyAndBeating());
}

TEST_F(FunctionTest, FirmwareStopsWhenTheFunctionGoes) {
  NicdProcess fw;
  StartFirmware(fw);
  ASSERT_TRUE(ReadyAndBeating());
  EXPECT_EQ(holder_.Stop(SIGTERM), 0);
  EXPECT_TRUE(WaitFor([&] { return !fw.running(); }));
  EXPECT_TRUE(qemu_.WaitClosed(milliseconds(1000)));
  // Both sockets are gone; the BAR file was named by the test (--shm), so it stays.
  EXPECT_NE(access(dir_.File("fw.sock").c_str(), F_OK), 0);
  EXPECT_NE(access(dir_.File("nic.sock").c_str(), F_OK), 0);
}

// A fake holder in-process: accepts one firmware, reads its request and answers with `grant`
// and `fds`.
class FakeHolder {
 public:
  FakeHolder(const std::string& path, nic::emu::FunctionGrant grant, std::vector<int> fds)
      : grant_(grant), fds_(std::move(fds)) {
    ok_ = nic::emu::ListenUnix(path, SOCK_SEQPACKET, &listen_).ok();
    thread_ = std::thread([this] { Serve(); });
  }
  ~FakeHolder() { thread_.join(); }
  bool ok() const { return ok_; }

 private:
  void Serve() {
    pollfd p{listen_.get(), POLLIN, 0};
    if (!ok_ || poll(&p, 1, 5000) != 1) {
      return;
    }
    nic::UniqueFd conn(accept4(listen_.get(), nullptr, nullptr, SOCK_CLOEXEC));
    char buf[64];
    if (!conn || recv(conn.get(), buf, sizeof(buf), 0) <= 0) {
      return;
    }
    (void)nic::emu::SendFunctionPacket(conn.get(), &grant_, sizeof(grant_), fds_);
    // Hold the connection until the firmware has read the grant.
    pollfd q{conn.get(), POLLIN, 0};
    poll(&q, 1, 2000);
  }

  nic::UniqueFd listen_;
  nic::emu::FunctionGrant grant_;
  std::vector<int> fds_;
  bool ok_ = false;
  std::thread thread_;
};

class HeldFunctionChecks : public ::testing::Test {
 protected:
  HeldFunctionChecks() {
    bar_.reset(memfd_create("bar", MFD_CLOEXEC));
    EXPECT_EQ(ftruncate(bar_.get(), kBarSize), 0);
    for (uint32_t i = 0; i < 2 * kVectors; ++i) {
      events_.emplace_back(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    }
  }

  static nic::emu::FunctionGrant GoodGrant() {
    nic::emu::FunctionGrant g{};
    g.magic = htole32(nic::emu::kFunctionGrantMagic);
    g.version = htole16(nic::emu::kFunctionVersion);
    g.status = htole16(nic::emu::kFunctionGranted);
    g.nr_vectors = htole32(kVectors);
    g.bar_size = htole64(kBarSize);
    g.lease = htole64(7);
    return g;
  }
  std::vector<int> GoodFds() const {
    std::vector<int> fds{bar_.get()};
    for (const nic::UniqueFd& e : events_) {
      fds.push_back(e.get());
    }
    return fds;
  }

  // Attaches against a fake holder answering `grant` with `fds`; returns the error, or "" on
  // success.
  std::string Attach(const nic::emu::FunctionGrant& grant, const std::vector<int>& fds) {
    const std::string path = dir_.File("fake-" + std::to_string(++round_) + ".sock");
    FakeHolder holder(path, grant, fds);
    EXPECT_TRUE(holder.ok());
    std::unique_ptr<nic::emu::HeldFunction> fn;
    nic::Status st = nic::emu::HeldFunction::Attach(path, milliseconds(3000), &fn);
    if (st.ok()) {
      EXPECT_EQ(fn->lease(), 7u);
      EXPECT_EQ(fn->nr_vectors(), kVectors);
      EXPECT_EQ(fn->bar().size(), kBarSize);
      return "";
    }
    return st.message();
  }

  TempDir dir_;
  nic::UniqueFd bar_;
  std::vector<nic::UniqueFd> events_;
  int round_ = 0;
};

TEST_F(HeldFunctionChecks, AcceptsAWellFormedGrant) {
  EXPECT_EQ(Attach(GoodGrant(), GoodFds()), "");
}

TEST_F(HeldFunctionChecks, RefusesBadGrants) {
  auto expect_refused = [&](const nic::emu::FunctionGrant& g, const std::vector<int>& fds,
                            const char* what) {
    std::string err = Attach(g, fds);
    EXPECT_NE(err, "") << what;
    EXPECT_NE(err.find("grant"), std::string::npos) << what << ": " << err;
  };
  nic::emu::FunctionGrant g = GoodGrant();
  g.magic = 0;
  expect_refused(g, GoodFds(), "magic");
  g = GoodGrant();
  g.nr_vectors = htole32(WAVE_MAX_VECTORS + 1);
  expect_refused(g, GoodFds(), "too many vectors");
  g = GoodGrant();
  g.bar_size = htole64(kBarSize + 4096);
  expect_refused(g, GoodFds(), "BAR size not a power of two");
  g = GoodGrant();
  g.bar_size = htole64(kBarSize * 2);
  expect_refused(g, GoodFds(), "BAR file smaller than the grant says");
  g = GoodGrant();
  g.reserved = htole32(1);
  expect_refused(g, GoodFds(), "reserved field");
  std::vector<int> fds = GoodFds();
  fds.pop_back();
  expect_refused(GoodGrant(), fds, "one descriptor short");
  fds = GoodFds();
  fds[2] = bar_.get();  // a file where an eventfd belongs
  expect_refused(GoodGrant(), fds, "not an eventfd");
  fds = GoodFds();
  fds[0] = events_[0].get();  // an eventfd where the BAR belongs
  expect_refused(GoodGrant(), fds, "BAR not a file");
}

TEST_F(HeldFunctionChecks, BusyIsAClearError) {
  nic::emu::FunctionGrant g = GoodGrant();
  g.status = htole16(nic::emu::kFunctionBusy);
  EXPECT_NE(Attach(g, {}).find("another firmware"), std::string::npos);
}

TEST(FunctionFlags, BadInputExitsWithUsage) {
  std::string err;
  EXPECT_EQ(NicdProcess::RunToExit(WAVE_NIC_FUNCTION_PATH, {"--socket", "/tmp/x"}, &err), 2);
  EXPECT_NE(err.find("--firmware"), std::string::npos) << err;
  EXPECT_EQ(NicdProcess::RunToExit(WAVE_NIC_FUNCTION_PATH,
                                   {"--socket", "/tmp/x", "--firmware", "/tmp/y", "--vectors", "9"},
                                   &err),
            2);
  EXPECT_EQ(NicdProcess::RunToExit({"--attach", "/tmp/y", "--shm", "/dev/shm/nope"}, &err), 2);
  EXPECT_NE(err.find("wave-nic-function owns the BAR"), std::string::npos) << err;
  EXPECT_EQ(NicdProcess::RunToExit({"--attach", "/tmp/y", "--socket", "/tmp/x"}, &err), 2);
  // Nobody listening: a start-up failure, not a hang.
  EXPECT_EQ(NicdProcess::RunToExit({"--attach", "/nonexistent/fw.sock"}, &err), 1);
}

}  // namespace
}  // namespace wave::nicd::testing
