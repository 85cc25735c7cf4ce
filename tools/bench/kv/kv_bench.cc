// kv_bench: the Wave store with its actors on the (emulated) NIC against Debian's memcached on
// the host, the same client and load, interleaved rounds (memcached, Wave, memcached, ...),
// each server started fresh and preloaded. Reports throughput, p50/p99 latency and CPU seconds
// per million requests, and the 32 MB memtable migration under load.
//
// Host CPU of a run = the machine's busy CPU time (/proc/stat) minus the load generator's own
// and, for Wave, minus wave-nicd's (the NIC's cores; on a real card they are not host cores).
// wave-nicd's CPU is reported apart as nic_cpu_per_mreq_wave.
//
//   kv_bench --json OUT [--rounds N] [--seconds S] [--keys N] [--connections N]
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <netinet/in.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "kv_load.h"
#include "memtable_migration.h"
#include "rpc/bind_socket.h"

namespace wave::bench {
namespace {

double Ticks() {
  return static_cast<double>(sysconf(_SC_CLK_TCK));
}

// Busy CPU seconds of the whole machine.
double MachineBusySeconds() {
  std::ifstream f("/proc/stat");
  std::string cpu;
  uint64_t v[8] = {};
  f >> cpu >> v[0] >> v[1] >> v[2] >> v[3] >> v[4] >> v[5] >> v[6] >> v[7];
  uint64_t busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
  return busy / Ticks();
}

// CPU seconds (user + system, all threads) of a process.
double ProcessCpuSeconds(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(f, line);
  size_t close = line.rfind(')');
  if (close == std::string::npos)
    return 0;
  std::istringstream rest(line.substr(close + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && rest >> field; ++i) {
    if (i == 14)
      utime = std::strtoull(field.c_str(), nullptr, 10);
    if (i == 15)
      stime = std::strtoull(field.c_str(), nullptr, 10);
  }
  return (utime + stime) / Ticks();
}

struct Server {
  pid_t pid = -1;
  int port = -1;
  std::string dir;
  ~Server() {
    if (pid > 0) {
      kill(pid, SIGTERM);
      waitpid(pid, nullptr, 0);
    }
    if (!dir.empty())
      std::system(("rm -rf " + dir).c_str());
  }
};

// Starts `argv` with stdout into `log`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& log) {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(fd, 1);
    dup2(fd, 2);
    std::vector<char*> argv;
    for (const std::string& a : args)
      argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execvp(argv[0], argv.data());
    _exit(127);
  }
  return pid;
}

bool WaitConnectable(int port) {
  for (int i = 0; i < 100; ++i) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bool ok = connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0;
    close(fd);
    if (ok)
      return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  return false;
}

bool StartMemcached(Server* s) {
  char tmpl[] = "/tmp/kvbench.XXXXXX";
  s->dir = mkdtemp(tmpl);
  s->port = rpc::PickFreePort();
  s->pid = Spawn({"memcached", "-u", "root", "-l", "127.0.0.1", "-p", std::to_string(s->port), "-U",
                  "0", "-t", "2", "-m", "1024"},
                 s->dir + "/log");
  return WaitConnectable(s->port);
}

// run_inline: the port's thread runs the shards' handlers itself (the default) or hands every
// op to the runtime's cores (--kv ...,inline=0), to show what run to completion is worth.
bool StartWave(Server* s, bool run_inline) {
  char tmpl[] = "/tmp/kvbench.XXXXXX";
  s->dir = mkdtemp(tmpl);
  s->port = rpc::PickFreePort();
  s->pid = Spawn({WAVE_NICD_PATH, "--socket", s->dir + "/nic.sock", "--shm", s->dir + "/bar",
                  "--sched-agent", "off", "--runtime", "cores=2", "--kv",
                  "127.0.0.1:" + std::to_string(s->port) + ",shards=2,mem=512M" +
                      (run_inline ? "" : ",inline=0")},
                 s->dir + "/log");
  return WaitConnectable(s->port);
}

struct Run {
  LoadResult load;
  double server_cpu_s = 0;
  double host_cpu_s = 0;
};

enum class Target { kMemcached, kWave, kWavePosted };

bool Measure(Target target, const LoadConfig& base, Run* out, std::string* error) {
  const bool wave = target != Target::kMemcached;
  Server s;
  if (!(wave ? StartWave(&s, target == Target::kWave) : StartMemcached(&s))) {
    *error = wave ? "wave-nicd did not start" : "memcached did not start";
    return false;
  }
  LoadConfig cfg = base;
  cfg.port = s.port;
  if (!Preload(cfg, error))
    return false;
  const double busy0 = MachineBusySeconds(), server0 = ProcessCpuSeconds(s.pid);
  out->load = RunLoad(cfg);
  const double busy = MachineBusySeconds() - busy0;
  out->server_cpu_s = ProcessCpuSeconds(s.pid) - server0;
  // Not clamped: a small negative value is the measurement's noise (ticks of 10 ms).
  out->host_cpu_s = busy - out->load.client_cpu_s - (wave ? out->server_cpu_s : 0.0);
  if (out->load.errors != 0) {
    *error = std::to_string(out->load.errors) + " wrong replies";
    return false;
  }
  return true;
}

double Median(std::vector<double> v) {
  if (v.empty())
    return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

double PerMreq(double cpu_s, uint64_t ops) {
  return ops == 0 ? 0 : cpu_s / (static_cast<double>(ops) / 1e6);
}

}  // namespace
}  // namespace wave::bench

int main(int argc, char** argv) {
  using namespace wave::bench;
  std::string json;
  int rounds = 3;
  LoadConfig cfg;
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--json")
      json = argv[i + 1];
    else if (a == "--rounds")
      rounds = std::atoi(argv[i + 1]);
    else if (a == "--seconds")
      cfg.seconds = std::atof(argv[i + 1]);
    else if (a == "--keys")
      cfg.keys = std::strtoull(argv[i + 1], nullptr, 10);
    else if (a == "--connections")
      cfg.connections_per_thread = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr,
                   "usage: kv_bench --json OUT [--rounds N] [--seconds S] [--keys N] "
                   "[--connections N]\n");
      return 2;
    }
  }
  if (rounds < 1 || cfg.seconds <= 0 || cfg.keys == 0 || cfg.connections_per_thread < 1) {
    std::fprintf(stderr, "kv_bench: bad arguments\n");
    return 2;
  }
  std::vector<Run> mc, wv, wp;
  std::vector<double> cpu_ratio, p99_ratio, tput_ratio, inline_p50_ratio, inline_tput_ratio;
  for (int r = 0; r < rounds; ++r) {
    Run a, b, c;
    std::string err;
    if (!Measure(Target::kMemcached, cfg, &a, &err) || !Measure(Target::kWave, cfg, &b, &err) ||
        !Measure(Target::kWavePosted, cfg, &c, &err)) {
      std::fprintf(stderr, "kv_bench: round %d: %s\n", r, err.c_str());
      return 1;
    }
    std::fprintf(stderr,
                 "round %d: memcached %.0f ops/s p99 %.1f us host %.3f s | wave %.0f ops/s p50 "
                 "%.1f us p99 %.1f us host %.3f s nic %.3f s | wave posted %.0f ops/s p50 %.1f us "
                 "p99 %.1f us\n",
                 r, a.load.ops / a.load.seconds, a.load.p99_us, a.host_cpu_s,
                 b.load.ops / b.load.seconds, b.load.p50_us, b.load.p99_us, b.host_cpu_s,
                 b.server_cpu_s, c.load.ops / c.load.seconds, c.load.p50_us, c.load.p99_us);
    cpu_ratio.push_back(PerMreq(b.host_cpu_s, b.load.ops) / PerMreq(a.host_cpu_s, a.load.ops));
    p99_ratio.push_back(b.load.p99_us / a.load.p99_us);
    tput_ratio.push_back((b.load.ops / b.load.seconds) / (a.load.ops / a.load.seconds));
    inline_p50_ratio.push_back(b.load.p50_us / c.load.p50_us);
    inline_tput_ratio.push_back((b.load.ops / b.load.seconds) / (c.load.ops / c.load.seconds));
    mc.push_back(a);
    wv.push_back(b);
    wp.push_back(c);
  }
  auto med = [](const std::vector<Run>& runs, auto field) {
    std::vector<double> v;
    for (const Run& r : runs)
      v.push_back(field(r));
    return Median(v);
  };
  auto tput = [](const Run& r) { return r.load.ops / r.load.seconds; };
  auto p50 = [](const Run& r) { return r.load.p50_us; };
  auto p99 = [](const Run& r) { return r.load.p99_us; };
  auto host = [](const Run& r) { return PerMreq(r.host_cpu_s, r.load.ops); };
  auto server = [](const Run& r) { return PerMreq(r.server_cpu_s, r.load.ops); };
  auto hit = [](const Run& r) {
    return r.load.gets ? static_cast<double>(r.load.hits) / r.load.gets : 0.0;
  };

  MemtableMigrationResult mig = RunMemtableMigration(32ull << 20);

  char buf[8192];
  std::snprintf(
      buf, sizeof(buf),
      "{\"rounds\":%d,\"seconds_per_run\":%.1f,\"keys\":%llu,\"connections\":%d,"
      "\"mix\":\"zipf 0.99, 90%% get / 10%% set, 64 B keys, 100 B - 4 KiB values\","
      "\"kv_ops_per_s_wave\":%.0f,\"kv_ops_per_s_memcached\":%.0f,"
      "\"p50_us_wave\":%.1f,\"p99_us_wave\":%.1f,\"p50_us_memcached\":%.1f,"
      "\"p99_us_memcached\":%.1f,\"host_cpu_per_mreq_wave\":%.3f,"
      "\"host_cpu_per_mreq_memcached\":%.3f,\"nic_cpu_per_mreq_wave\":%.3f,"
      "\"memcached_own_cpu_per_mreq\":%.3f,\"hit_ratio_wave\":%.3f,\"hit_ratio_memcached\":%.3f,"
      "\"host_cpu_ratio_wave_vs_memcached\":%.3f,\"p99_ratio_wave_vs_memcached\":%.3f,"
      "\"throughput_ratio_wave_vs_memcached\":%.3f,"
      "\"kv_ops_per_s_wave_posted\":%.0f,\"p50_us_wave_posted\":%.1f,\"p99_us_wave_posted\":%.1f,"
      "\"p50_ratio_wave_inline_vs_posted\":%.3f,\"throughput_ratio_wave_inline_vs_posted\":%.3f,"
      "\"memtable_migration_ok\":%s,\"memtable_migration_bytes\":%llu,"
      "\"memtable_migration_to_host_ms\":%.2f,\"memtable_migration_back_ms\":%.2f,"
      "\"memtable_migration_requests\":%llu,\"memtable_migration_answered_once\":%llu,"
      "\"memtable_migration_values_intact\":%llu,"
      "\"note\":\"ratios are medians of per-round ratios; rounds interleave memcached, Wave and "
      "Wave posted "
      "(inline=0: every op handed to the runtime cores); "
      "wave-nicd runs outside the VM on this machine's cores, emulating the NIC's\"}",
      rounds, cfg.seconds, static_cast<unsigned long long>(cfg.keys), cfg.connections_per_thread,
      med(wv, tput), med(mc, tput), med(wv, p50), med(wv, p99), med(mc, p50), med(mc, p99),
      med(wv, host), med(mc, host), med(wv, server), med(mc, server), med(wv, hit), med(mc, hit),
      Median(cpu_ratio), Median(p99_ratio), Median(tput_ratio), med(wp, tput), med(wp, p50),
      med(wp, p99), Median(inline_p50_ratio), Median(inline_tput_ratio), mig.ok ? "true" : "false",
      static_cast<unsigned long long>(mig.bytes), mig.to_host_ms, mig.back_ms,
      static_cast<unsigned long long>(mig.requests),
      static_cast<unsigned long long>(mig.answered_once),
      static_cast<unsigned long long>(mig.values_intact));
  std::printf("%s\n", buf);
  if (!json.empty()) {
    std::ofstream(json) << buf << "\n";
  }
  return mig.ok ? 0 : 1;
}
