// wave-mem-host: start, stop and inspect the host's memory mechanism (mem_daemon.h). `wavectl
// mem` hands its arguments here.
//
//   wave-mem-host start --policy sol|age [--pid P]... [options] [-- CMD [ARGS]]
//   wave-mem-host stop | status [--json] | kill on|off      [--state-dir DIR]
//
// `start` without a command detaches (the daemon keeps running; start returns once it is set
// up, with its error if it could not be). With `-- CMD` it stays in the foreground, tracks CMD
// and exits with CMD's status.
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "mem_daemon.h"

namespace {

using wave::mem::DaemonOptions;

constexpr const char* kUsage =
    "usage: wave-mem-host start --policy sol|age [--pid P]... [options] [-- CMD [ARGS]]\n"
    "       wave-mem-host stop | status [--json] | kill on|off   [--state-dir DIR]\n"
    "options:\n"
    "  --device SPEC          the link device (wave:/dev/wave0; shm:NAME for tests)\n"
    "  --state-dir DIR        pid and status files (/run/wave-mem)\n"
    "  --sample-us N          DAMON sampling interval (5000)\n"
    "  --aggr-us N            DAMON aggregation interval = one batch (100000)\n"
    "  --update-us N          DAMON target update interval (1000000)\n"
    "  --min-regions N        DAMON region bounds (10)\n"
    "  --max-regions N        (1000; at most 4096 reach the NIC per batch)\n"
    "  --max-reclaim-mib-s N  the agent's page-out budget (32; 0: none)\n"
    "  --deadline-ms N        decisions later than this after collection are void (1000)\n"
    "  --pio                  write batches through the mapping, not the DMA engine\n"
    "  --batch-path P         auto|kernel|user: who builds and ships the batches (auto:\n"
    "                         wave.ko when it supports it, else this process; also from\n"
    "                         $WAVE_MEM_BATCH_PATH)\n"
    "  --kill                 start with the kill switch on (no decisions)\n"
    "  --foreground           do not detach\n"
    "  --status-out PATH      also write the final status JSON to PATH\n";

bool ParseU32(const char* s, uint32_t* out) {
  char* end = nullptr;
  errno = 0;
  const unsigned long v = std::strtoul(s, &end, 10);
  if (errno != 0 || end == s || *end != '\0' || v > UINT32_MAX)
    return false;
  *out = static_cast<uint32_t>(v);
  return true;
}

std::string StateDir(int argc, char** argv) {
  for (int i = 2; i + 1 < argc; i++)
    if (!std::strcmp(argv[i], "--state-dir"))
      return argv[i + 1];
  return DaemonOptions{}.state_dir;
}

pid_t DaemonPid(const std::string& dir) {
  FILE* f = std::fopen((dir + "/pid").c_str(), "r");
  if (!f)
    return -1;
  int pid = -1;
  if (std::fscanf(f, "%d", &pid) != 1)
    pid = -1;
  std::fclose(f);
  return pid > 0 && kill(pid, 0) == 0 ? pid : -1;
}

int Start(int argc, char** argv) {
  DaemonOptions o;
  bool have_policy = false;
  for (int i = 2; i < argc; i++) {
    const std::string a = argv[i];
    if (a == "--") {
      for (int j = i + 1; j < argc; j++)
        o.command.push_back(argv[j]);
      break;
    }
    const bool flag = a == "--pio" || a == "--kill" || a == "--foreground";
    if (!flag && i + 1 >= argc) {
      std::fprintf(stderr, "wave-mem-host: %s needs a value\n%s", a.c_str(), kUsage);
      return 2;
    }
    const char* v = flag ? "" : argv[i + 1];
    uint32_t n = 0;
    bool ok = true;
    if (a == "--policy") {
      have_policy = true;
      if (!std::strcmp(v, "sol"))
        o.policy = WAVE_MEM_POLICY_SOL;
      else if (!std::strcmp(v, "age"))
        o.policy = WAVE_MEM_POLICY_AGE;
      else
        ok = false;
    } else if (a == "--pid") {
      ok = ParseU32(v, &n) && n > 0;
      o.pids.push_back(static_cast<pid_t>(n));
    } else if (a == "--device") {
      o.device = v;
    } else if (a == "--state-dir") {
      o.state_dir = v;
    } else if (a == "--status-out") {
      o.status_out = v;
    } else if (a == "--sample-us") {
      ok = ParseU32(v, &o.damon.sample_us) && o.damon.sample_us > 0;
    } else if (a == "--aggr-us") {
      ok = ParseU32(v, &o.damon.aggr_us) && o.damon.aggr_us > 0;
    } else if (a == "--update-us") {
      ok = ParseU32(v, &o.damon.update_us) && o.damon.update_us > 0;
    } else if (a == "--min-regions") {
      ok = ParseU32(v, &o.damon.min_nr_regions) && o.damon.min_nr_regions >= 3;
    } else if (a == "--max-regions") {
      ok = ParseU32(v, &o.damon.max_nr_regions);
    } else if (a == "--max-reclaim-mib-s") {
      ok = ParseU32(v, &o.max_reclaim_mib_s);
    } else if (a == "--deadline-ms") {
      ok = ParseU32(v, &o.deadline_ms) && o.deadline_ms > 0 && o.deadline_ms <= 60000;
    } else if (a == "--pio") {
      o.pio = true;
    } else if (a == "--batch-path") {
      o.batch_path = v;
      ok = o.batch_path == "auto" || o.batch_path == "kernel" || o.batch_path == "user";
    } else if (a == "--kill") {
      o.kill = true;
    } else if (a == "--foreground") {
      o.foreground = true;
    } else {
      std::fprintf(stderr, "wave-mem-host: unknown option %s\n%s", a.c_str(), kUsage);
      return 2;
    }
    if (!ok) {
      std::fprintf(stderr, "wave-mem-host: bad value '%s' for %s\n", v, a.c_str());
      return 2;
    }
    if (!flag)
      i++;
  }
  if (!have_policy) {
    std::fprintf(stderr, "wave-mem-host: start needs --policy sol|age\n");
    return 2;
  }
  if (o.damon.aggr_us < o.damon.sample_us || o.damon.aggr_us / o.damon.sample_us > 0xffff ||
      o.damon.max_nr_regions < o.damon.min_nr_regions) {
    std::fprintf(stderr,
                 "wave-mem-host: DAMON intervals or region bounds out of range (aggr >= sample, "
                 "at most 65535 samples per aggregation, min <= max regions)\n");
    return 2;
  }
  if (pid_t p = DaemonPid(o.state_dir); p > 0) {
    std::fprintf(stderr, "wave-mem-host: already running (pid %d); stop it first\n", p);
    return 1;
  }
  if (o.foreground || !o.command.empty())
    return wave::mem::RunDaemon(o, -1);

  // Detach: the child becomes the daemon and reports over a pipe whether it is set up.
  int fds[2];
  if (pipe(fds) != 0) {
    std::perror("wave-mem-host: pipe");
    return 1;
  }
  const pid_t pid = fork();
  if (pid < 0) {
    std::perror("wave-mem-host: fork");
    return 1;
  }
  if (pid == 0) {
    close(fds[0]);
    setsid();
    if (FILE* devnull = std::fopen("/dev/null", "r")) {
      dup2(fileno(devnull), STDIN_FILENO);
      std::fclose(devnull);
    }
    _exit(wave::mem::RunDaemon(o, fds[1]));
  }
  close(fds[1]);
  char buf[512];
  const ssize_t n = read(fds[0], buf, sizeof(buf) - 1);
  close(fds[0]);
  if (n <= 0) {
    std::fprintf(stderr, "wave-mem-host: the daemon died while starting\n");
    return 1;
  }
  buf[n] = '\0';
  if (std::strncmp(buf, "ok", 2) != 0) {
    std::fprintf(stderr, "wave-mem-host: %s", buf);
    return 1;
  }
  std::printf("wave-mem-host: running (pid %d)\n", pid);
  return 0;
}

int Stop(const std::string& dir) {
  const pid_t pid = DaemonPid(dir);
  if (pid <= 0) {
    std::fprintf(stderr, "wave-mem-host: not running\n");
    return 1;
  }
  kill(pid, SIGTERM);
  for (int i = 0; i < 1000; i++) {
    if (kill(pid, 0) != 0)
      return 0;
    usleep(10000);
  }
  std::fprintf(stderr, "wave-mem-host: pid %d did not stop within 10 s\n", pid);
  return 1;
}

int Status(const std::string& dir, bool json) {
  const std::string path = dir + (json ? "/status.json" : "/status.txt");
  FILE* f = std::fopen(path.c_str(), "r");
  if (!f) {
    std::fprintf(stderr, "wave-mem-host: no status at %s (not started?)\n", path.c_str());
    return 1;
  }
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0)
    std::fwrite(buf, 1, n, stdout);
  std::fclose(f);
  if (DaemonPid(dir) <= 0 && !json)
    std::printf("(wave-mem-host is not running: this is its last status)\n");
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  if (cmd == "start")
    return Start(argc, argv);
  const std::string dir = StateDir(argc, argv);
  if (cmd == "stop")
    return Stop(dir);
  if (cmd == "status") {
    bool json = false;
    for (int i = 2; i < argc; i++)
      json = json || !std::strcmp(argv[i], "--json");
    return Status(dir, json);
  }
  if (cmd == "kill") {
    if (argc < 3 || (std::strcmp(argv[2], "on") && std::strcmp(argv[2], "off"))) {
      std::fprintf(stderr, "usage: wave-mem-host kill on|off\n");
      return 2;
    }
    const pid_t pid = DaemonPid(dir);
    if (pid <= 0) {
      std::fprintf(stderr, "wave-mem-host: not running\n");
      return 1;
    }
    return kill(pid, std::strcmp(argv[2], "on") ? SIGUSR2 : SIGUSR1) == 0 ? 0 : 1;
  }
  std::fprintf(stderr, "wave-mem-host: unknown command '%s'\n%s", cmd.c_str(), kUsage);
  return 2;
}
