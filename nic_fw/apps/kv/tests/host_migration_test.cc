// The deployed store moving its shards to the host and back on its own: wave-kv-host makes the
// migration link, wave-nicd serves the store with --runtime-host and a low mean-latency
// threshold, pipelined clients overload it. Checked: a shard goes to the host under load and
// serves from there, every shard is back on the NIC once load stops, each pipelined request
// got exactly one reply in order, and every value reads back as written. With --device the
// link is the queues of a shm: Wave device (wave-kv-host --link-device, wave-nicd
// --runtime-host device:SPEC) instead of a link file.
//   kv_host_migration_test WAVE_NICD WAVE_KV_HOST [--device]
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "store_process.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;
using wave::kv::test::Conn;

constexpr int kPreloaded = 2000;
constexpr int kClients = 4;
constexpr int kBatch = 64;  // requests per pipelined send

std::string PreloadValue(int k) {
  return "pre-" + std::to_string(k) + "-" + std::string(100 + k % 400, 'a' + k % 26);
}
std::string OwnValue(int client, int key, int version) {
  return "c" + std::to_string(client) + "k" + std::to_string(key) + "v" + std::to_string(version) +
         std::string(50 + version % 300, 'x');
}
std::string GetReply(const std::string& key, int flags, const std::string& v) {
  return "VALUE " + key + " " + std::to_string(flags) + " " + std::to_string(v.size()) + "\r\n" +
         v + "\r\nEND\r\n";
}

pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const auto& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool AnyShardWhere(const std::map<std::string, std::string>& s, const std::string& where) {
  for (const auto& [k, v] : s) {
    if (k.starts_with("shard.") && k.ends_with(".where") && v == where)
      return true;
  }
  return false;
}

struct ClientResult {
  uint64_t requests = 0;
  uint64_t bad = 0;  // a reply missing, extra, out of order or with a wrong value
  std::string first_bad;
  std::vector<int> versions;  // latest acknowledged version of each own key
};

// Pipelines batches of gets (preloaded keys) and sets then gets of its own keys; each batch's
// replies must be exactly the expected concatenation.
void Client(int port, int id, std::atomic<bool>* stop, ClientResult* out) {
  Conn c(port, 10);
  constexpr int kOwnKeys = 200;
  out->versions.assign(kOwnKeys, 0);
  uint64_t step = 0;
  while (!*stop && c.ok()) {
    std::string req, want;
    for (int i = 0; i < kBatch; ++i, ++step) {
      if (step % 4 == 0) {
        const int k = static_cast<int>(step / 4 % kOwnKeys);
        const int ver = ++out->versions[k];
        const std::string key = "own" + std::to_string(id) + "-" + std::to_string(k);
        const std::string v = OwnValue(id, k, ver);
        req += "set " + key + " " + std::to_string(id) + " 0 " + std::to_string(v.size()) + "\r\n" +
               v + "\r\nget " + key + "\r\n";
        want += "STORED\r\n" + GetReply(key, id, v);
        out->requests += 2;
      } else {
        const int k = static_cast<int>((step * 7919 + id * 104729) % kPreloaded);
        const std::string key = "pre" + std::to_string(k);
        req += "get " + key + "\r\n";
        want += GetReply(key, 3, PreloadValue(k));
        ++out->requests;
      }
    }
    const std::string got = c.AskBytes(req, want.size());
    if (got != want) {
      ++out->bad;
      if (out->first_bad.empty()) {
        size_t at = 0;
        while (at < got.size() && at < want.size() && got[at] == want[at])
          ++at;
        const size_t from = at > 60 ? at - 60 : 0;
        out->first_bad = "at byte " + std::to_string(at) + " of " + std::to_string(want.size()) +
                         ", got " + std::to_string(got.size()) + ": '" + got.substr(from, 160) +
                         "' wanted '" + want.substr(from, 160) + "'";
      }
      return;
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  const bool device = argc == 4 && std::string(argv[3]) == "--device";
  if (argc != 3 && !device) {
    std::fprintf(stderr, "usage: kv_host_migration_test WAVE_NICD WAVE_KV_HOST [--device]\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  char tmpl[] = "/tmp/kvhost.XXXXXX";
  const std::string dir = mkdtemp(tmpl);
  // The link file, or the shm: device's BAR image (shm_open names live in /dev/shm).
  const std::string name = "kvhost-test-" + std::to_string(getpid());
  const std::string link = "/dev/shm/wave-" + name;
  const std::string spec = "shm:" + name;
  const int port = wave::rpc::PickFreePort();

  pid_t host = Spawn(
      {argv[2], device ? "--link-device" : "--link", device ? spec : link, "--window", "128M"},
      dir + "/host.log");
  // Ready once it says so (a device's image exists before its queues do).
  for (int i = 0; i < 500 && ReadFile(dir + "/host.log").find("ready") == std::string::npos; ++i)
    std::this_thread::sleep_for(10ms);
  KV_CHECK(access(link.c_str(), F_OK) == 0, "wave-kv-host made no link (%s/host.log)", dir.c_str());
  // One NIC core, a 200 us mean-latency threshold and 150 ms cooldowns: pipelined clients
  // overload it within a second.
  std::vector<std::string> nicd_args = {argv[1],
                                        "--socket",
                                        dir + "/nic.sock",
                                        "--shm",
                                        dir + "/bar",
                                        "--sched-agent",
                                        "off",
                                        "--runtime",
                                        "cores=1",
                                        "--runtime",
                                        "mean_threshold_us=200",
                                        "--runtime",
                                        "migration_cooldown_ms=150",
                                        "--runtime-host",
                                        device ? "device:" + spec : link,
                                        "--kv",
                                        "127.0.0.1:" + std::to_string(port) + ",shards=2,mem=32M"};
  pid_t nicd = Spawn(nicd_args, dir + "/nicd.log");
  KV_CHECK(wave::kv::test::WaitConnectable(port), "wave-nicd did not start (%s/nicd.log)",
           dir.c_str());

  {
    Conn c(port);
    std::string req, want;
    for (int k = 0; k < kPreloaded; ++k) {
      const std::string v = PreloadValue(k);
      req +=
          "set pre" + std::to_string(k) + " 3 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n";
      want += "STORED\r\n";
    }
    KV_CHECK(c.AskBytes(req, want.size()) == want, "preload failed");
  }

  std::atomic<bool> stop{false};
  std::vector<ClientResult> results(kClients);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i)
    clients.emplace_back(Client, port, i, &stop, &results[i]);
  // Under load: wait for a shard on the host, then keep loading while it serves from there.
  bool seen_on_host = false;
  const auto deadline = Clock::now() + 30s;
  while (!seen_on_host && Clock::now() < deadline) {
    auto s = wave::kv::test::StoreStats(port);
    seen_on_host = AnyShardWhere(s, "host");
    std::this_thread::sleep_for(20ms);
  }
  KV_CHECK(seen_on_host, "no shard went to the host under load within 30 s");
  std::this_thread::sleep_for(1500ms);
  auto under_load = wave::kv::test::StoreStats(port);
  stop = true;
  for (auto& t : clients)
    t.join();
  std::printf("# under load: migrations out %s, in %s, nic mean latency %s ns\n",
              under_load["runtime.migrations_out"].c_str(),
              under_load["runtime.migrations_in"].c_str(),
              under_load["runtime.nic_latency_mean_ns"].c_str());
  uint64_t requests = 0;
  for (int i = 0; i < kClients; ++i) {
    requests += results[i].requests;
    KV_CHECK(results[i].bad == 0, "client %d: a batch came back wrong: '%s'", i,
             results[i].first_bad.c_str());
  }
  std::printf("# %llu requests, each answered once, in order, with its value\n",
              static_cast<unsigned long long>(requests));

  // Load gone: every shard comes back to the NIC.
  bool all_home = false;
  const auto home_by = Clock::now() + 20s;
  std::map<std::string, std::string> s;
  while (!all_home && Clock::now() < home_by) {
    s = wave::kv::test::StoreStats(port);
    all_home = !s.empty() && !AnyShardWhere(s, "host") && !AnyShardWhere(s, "to-host") &&
               !AnyShardWhere(s, "to-nic");
    std::this_thread::sleep_for(50ms);
  }
  KV_CHECK(all_home, "shards still on the host 20 s after load stopped");
  KV_CHECK(std::atol(s["runtime.migrations_in"].c_str()) >= 1, "no migration back");

  // Every value as last written, now served on the NIC.
  {
    Conn c(port);
    int wrong = 0;
    for (int k = 0; k < kPreloaded; ++k) {
      const std::string key = "pre" + std::to_string(k);
      const std::string got = c.Ask("get " + key + "\r\n", "END\r\n");
      if (got != GetReply(key, 3, PreloadValue(k)) && wrong++ == 0)
        std::printf("# first wrong: %s -> '%s'\n", key.c_str(), got.substr(0, 80).c_str());
    }
    for (int i = 0; i < kClients; ++i) {
      for (size_t k = 0; k < results[i].versions.size(); ++k) {
        if (results[i].versions[k] == 0)
          continue;
        const std::string key = "own" + std::to_string(i) + "-" + std::to_string(k);
        wrong += c.Ask("get " + key + "\r\n", "END\r\n") !=
                 GetReply(key, i, OwnValue(i, static_cast<int>(k), results[i].versions[k]));
      }
    }
    KV_CHECK(wrong == 0, "%d values wrong after the shards came back", wrong);
  }

  kill(nicd, SIGTERM);
  waitpid(nicd, nullptr, 0);
  kill(host, SIGTERM);
  waitpid(host, nullptr, 0);
  const std::string host_log = ReadFile(dir + "/host.log");
  std::printf("# %s", host_log.substr(host_log.find("wave-kv-host: stopped")).c_str());
  KV_CHECK(host_log.find("received 0,") == std::string::npos, "the host received no shard");
  KV_CHECK(host_log.find("bad frames 0") != std::string::npos, "the host refused frames");
  KV_CHECK(access(link.c_str(), F_OK) != 0, "wave-kv-host left its link file");
  const int failures = wave::kv::test::failures;
  if (failures == 0)
    std::system(("rm -rf " + dir).c_str());
  else
    std::printf("# logs in %s\n", dir.c_str());
  std::printf("%s: %d failures\n", failures ? "FAIL" : "ok", failures);
  return failures ? 1 : 0;
}
