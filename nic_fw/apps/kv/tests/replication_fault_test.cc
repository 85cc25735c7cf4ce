// The replicated store under faults, as three real wave-nicd processes on this machine:
// a backup killed under load and restarted (it catches up), the primary killed under load
// (a new one takes over), a backup refusing writes, and all three restarted from their logs.
// Every write that was acknowledged must be readable afterwards with its value; each write
// uses a key of its own, so an unacknowledged write may or may not exist but never hides an
// acknowledged one.
//   kv_replication_fault_test WAVE_NICD
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "store_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using wave::kv::test::Conn;
using wave::kv::test::WaitConnectable;
using wave::rpc::PickFreePort;
#define CHECK KV_CHECK

struct Replica {
  int index = 0;
  int client_port = 0;
  std::string dir;
  pid_t pid = -1;
  pid_t host_pid = -1;  // its wave-kv-host, with storage
};

std::string nicd;
std::string kv_host;  // set: every replica's shards flush to SSTables on their own host
std::vector<std::string> peers;
std::vector<Replica> replicas(3);

// The replica's host half: wave-kv-host serving its storage link over its own SSTables.
void StartHost(int i) {
  Replica& r = replicas[i];
  const std::string link = r.dir + "/storage.link", sst = r.dir + "/sst";
  r.host_pid = fork();
  if (r.host_pid == 0) {
    int fd = open((r.dir + "/kv-host.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    execl(kv_host.c_str(), kv_host.c_str(), "--storage-link", link.c_str(), "--sst-dir",
          sst.c_str(), "--replace", nullptr);
    _exit(127);
  }
  auto deadline = Clock::now() + 10s;
  while (access(link.c_str(), F_OK) != 0 && Clock::now() < deadline)
    std::this_thread::sleep_for(20ms);
  CHECK(access(link.c_str(), F_OK) == 0, "wave-kv-host %d did not start (see %s/kv-host.log)", i,
        r.dir.c_str());
}

void Start(int i) {
  Replica& r = replicas[i];
  std::string replicas_arg = std::to_string(i) + "@" + peers[0] + "," + peers[1] + "," + peers[2];
  r.pid = fork();
  if (r.pid == 0) {
    int fd = open((r.dir + "/nicd.log").c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::string sock = r.dir + "/nic.sock", bar = r.dir + "/bar", log = r.dir + "/repl.log";
    // With storage, the shards are small so that most writes live only on the host.
    std::string kv =
        "127.0.0.1:" + std::to_string(r.client_port) +
        (kv_host.empty() ? ",shards=2,mem=64M"
                         : ",shards=2,mem=1M,flush=64K,storage=" + r.dir + "/storage.link");
    execl(nicd.c_str(), nicd.c_str(), "--socket", sock.c_str(), "--shm", bar.c_str(),
          "--sched-agent", "off", "--runtime", "cores=1", "--kv", kv.c_str(), "--kv-replicas",
          replicas_arg.c_str(), "--kv-log", log.c_str(), nullptr);
    _exit(127);
  }
  CHECK(WaitConnectable(r.client_port), "replica %d did not start (see %s/nicd.log)", i,
        r.dir.c_str());
}

void Stop(int i, int sig) {
  Replica& r = replicas[i];
  if (r.pid <= 0)
    return;
  kill(r.pid, sig);
  waitpid(r.pid, nullptr, 0);
  r.pid = -1;
  unlink((r.dir + "/nic.sock").c_str());
}

std::map<std::string, std::string> Stats(int i) {
  if (replicas[i].pid <= 0)
    return {};
  return wave::kv::test::StoreStats(replicas[i].client_port);
}

// The live replica that says it is the primary, once a majority agrees on its view.
int FindPrimary(std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  while (Clock::now() < deadline) {
    for (int i = 0; i < 3; ++i) {
      auto s = Stats(i);
      if (s["repl.role"] != "primary")
        continue;
      int agree = 0;
      for (int j = 0; j < 3; ++j)
        agree += Stats(j)["repl.view"] == s["repl.view"];
      if (agree >= 2)
        return i;
    }
    std::this_thread::sleep_for(50ms);
  }
  return -1;
}

std::string ValueOf(int k) {
  return "value-" + std::to_string(k) + "-" + std::string(20 + k % 200, 'a' + k % 26);
}

std::mutex acked_mu;
std::vector<int> acked;
std::atomic<int> next_key{0};

// Writes fresh keys to `port` until `stop`; records each acknowledged one.
void Writer(int port, std::atomic<bool>* stop, std::atomic<int>* errors) {
  Conn c(port);
  while (!*stop && c.ok()) {
    int k = next_key++;
    std::string v = ValueOf(k);
    std::string reply = c.Ask(
        "set k" + std::to_string(k) + " 7 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n",
        "\r\n");
    if (reply == "STORED\r\n") {
      std::lock_guard lock(acked_mu);
      acked.push_back(k);
    } else {
      // The first refusal says why the writes stopped (a view change, a timeout, ...).
      if (errors->fetch_add(1) == 0)
        std::printf("# write of k%d answered '%.80s'\n", k, reply.c_str());
      return;
    }
  }
}

int WriteFor(int port, std::chrono::milliseconds d, int* errors_out = nullptr) {
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  size_t before;
  {
    std::lock_guard lock(acked_mu);
    before = acked.size();
  }
  std::thread a(Writer, port, &stop, &errors), b(Writer, port, &stop, &errors);
  std::this_thread::sleep_for(d);
  stop = true;
  a.join();
  b.join();
  if (errors_out)
    *errors_out = errors;
  std::lock_guard lock(acked_mu);
  return static_cast<int>(acked.size() - before);
}

// Writes in rounds of `round` until at least `want` are acknowledged or `timeout` passed: how
// many were. (A replica that just took over, or a loaded machine, may be slow for a while;
// the test asserts that writes go on, not how fast.)
int WriteAtLeast(int port, int want, std::chrono::milliseconds round,
                 std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int n = WriteFor(port, round);
  while (n < want && Clock::now() < deadline)
    n += WriteFor(port, round);
  return n;
}

// Every acknowledged key, read from replica i: how many are missing or wrong.
int Verify(int i) {
  std::vector<int> keys;
  {
    std::lock_guard lock(acked_mu);
    keys = acked;
  }
  Conn c(replicas[i].client_port);
  int bad = 0;
  for (int k : keys) {
    std::string v = ValueOf(k);
    std::string want = "VALUE k" + std::to_string(k) + " 7 " + std::to_string(v.size()) + "\r\n" +
                       v + "\r\nEND\r\n";
    const std::string got = c.Ask("get k" + std::to_string(k) + "\r\n", "END\r\n");
    if (got == want)
      continue;
    // The first few misses name the key: it can be looked up in the replica's logs.
    if (++bad <= 5)
      std::printf("# replica %d: k%d answered '%.60s'\n", i, k, got.c_str());
  }
  return bad;
}

bool WaitCaughtUp(int i, int primary, std::chrono::milliseconds timeout) {
  auto deadline = Clock::now() + timeout;
  const long target = std::atol(Stats(primary)["repl.commit"].c_str());
  while (Clock::now() < deadline) {
    if (std::atol(Stats(i)["repl.commit"].c_str()) >= target)
      return true;
    std::this_thread::sleep_for(50ms);
  }
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2 && argc != 3) {
    std::fprintf(stderr, "usage: kv_replication_fault_test WAVE_NICD [WAVE_KV_HOST]\n");
    return 2;
  }
  nicd = argv[1];
  if (argc == 3)
    kv_host = argv[2];
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/kvrepl.XXXXXX";
  const std::string root = mkdtemp(tmpl);
  for (int i = 0; i < 3; ++i) {
    replicas[i].index = i;
    replicas[i].client_port = PickFreePort();
    replicas[i].dir = root + "/r" + std::to_string(i);
    mkdir(replicas[i].dir.c_str(), 0755);
    peers.push_back("127.0.0.1:" + std::to_string(PickFreePort()));
  }
  if (!kv_host.empty()) {
    for (int i = 0; i < 3; ++i)
      StartHost(i);
  }
  for (int i = 0; i < 3; ++i)
    Start(i);

  int primary = FindPrimary(15s);
  CHECK(primary >= 0, "no primary within 15 s");
  if (primary < 0)
    return 1;
  std::printf("# primary: replica %d\n", primary);
  int n = WriteAtLeast(replicas[primary].client_port, 51, 1500ms, 20s);
  std::printf("# %d writes acknowledged with all three up\n", n);
  CHECK(n > 50, "too few writes acknowledged: %d", n);

  // A backup refuses writes and says where the primary is.
  const int backup = (primary + 1) % 3;
  {
    Conn c(replicas[backup].client_port);
    std::string r = c.Ask("set x 0 0 1\r\nx\r\n", "\r\n");
    CHECK(r.starts_with("SERVER_ERROR not the primary"), "backup answered '%s'", r.c_str());
  }

  // A backup dies under load: writes go on (2 of 3 is a majority).
  std::atomic<bool> stop{false};
  std::atomic<int> errors{0};
  std::thread w(Writer, replicas[primary].client_port, &stop, &errors);
  std::this_thread::sleep_for(300ms);
  Stop(backup, SIGKILL);
  std::this_thread::sleep_for(1000ms);
  stop = true;
  w.join();
  n = WriteAtLeast(replicas[primary].client_port, 21, 1000ms, 20s);
  std::printf("# %d writes acknowledged with replica %d dead\n", n, backup);
  CHECK(n > 20, "writes stopped with one backup dead: %d", n);
  CHECK(errors == 0, "%d write errors while a backup died", errors.load());

  // It comes back and catches up; its own copy has every acknowledged write.
  Start(backup);
  CHECK(WaitCaughtUp(backup, primary, 15s), "replica %d did not catch up", backup);
  int bad = Verify(backup);
  CHECK(bad == 0, "%d acknowledged writes missing on the restarted backup", bad);

  // The primary dies under load: a new one takes over.
  stop = false;
  std::thread w2(Writer, replicas[primary].client_port, &stop, &errors);
  std::this_thread::sleep_for(300ms);
  auto killed_at = Clock::now();
  Stop(primary, SIGKILL);
  stop = true;
  w2.join();
  const int old_primary = primary;
  primary = FindPrimary(15s);
  CHECK(primary >= 0 && primary != old_primary, "no new primary after the old one died");
  if (primary < 0)
    return 1;
  std::printf("# new primary: replica %d after %.0f ms\n", primary,
              std::chrono::duration<double, std::milli>(Clock::now() - killed_at).count());
  n = WriteAtLeast(replicas[primary].client_port, 21, 1000ms, 20s);
  CHECK(n > 20, "the new primary acknowledged only %d writes in 20 s", n);
  bad = Verify(primary);
  CHECK(bad == 0, "%d acknowledged writes lost when the primary died", bad);
  Start(old_primary);
  CHECK(WaitCaughtUp(old_primary, primary, 15s), "the old primary did not catch up");

  // The whole store restarts: everything acknowledged comes back from the logs (and, with
  // storage, from the SSTables: the shards skip the logged writes the tables hold). With
  // storage the NICs are killed outright, so no shard gets to flush on the way down.
  for (int i = 0; i < 3; ++i)
    Stop(i, kv_host.empty() ? SIGTERM : SIGKILL);
  for (int i = 0; i < 3; ++i)
    Start(i);
  primary = FindPrimary(15s);
  CHECK(primary >= 0, "no primary after the restart");
  if (primary >= 0) {
    bad = Verify(primary);
    std::printf("# %zu acknowledged writes checked after restarting all three\n", acked.size());
    CHECK(bad == 0, "%d acknowledged writes lost across the restart", bad);
    if (!kv_host.empty()) {
      auto s = Stats(primary);
      std::printf(
          "# tier on the primary: %s batches flushed, %s keys looked up on the host "
          "(%s without parking); %s committed writes stalled for room, %s posted again\n",
          s["tier.flushed"].c_str(), s["tier.lookups"].c_str(), s["tier.direct_lookups"].c_str(),
          s["apply.stalls"].c_str(), s["apply.reposts"].c_str());
      CHECK(std::atol(s["tier.lookups"].c_str()) > 100,
            "the reads did not come from the SSTables (tier.lookups %s)",
            s["tier.lookups"].c_str());
    }
  }
  for (int i = 0; i < 3; ++i)
    Stop(i, SIGTERM);
  for (Replica& r : replicas) {
    if (r.host_pid > 0) {
      kill(r.host_pid, SIGTERM);
      waitpid(r.host_pid, nullptr, 0);
    }
  }
  if (wave::kv::test::failures == 0)
    std::system(("rm -rf " + root).c_str());
  std::printf("%s: %d failures\n", wave::kv::test::failures ? "FAIL" : "ok",
              wave::kv::test::failures);
  return wave::kv::test::failures ? 1 : 0;
}
