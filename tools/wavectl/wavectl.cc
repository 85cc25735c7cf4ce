// wavectl: inspect and control Wave from the host. Subcommands:
//   info    the device: ABI, NIC state and heartbeat, queue table (device_command.cc)
//   ping    echo round trips across the link, with the mappings' memtypes (device_command.cc)
//   stats   the NIC actor runtime's statistics (table or JSON)
//   sched   the scheduling offload: start/stop/status/run (sched_command.cc)
//   kv      the key-value store on the NIC: status (kv_command.cc)
//   mem     the memory-management offload: start/stop/status/kill (mem_command.cc)
#include <cstdio>
#include <cstring>
#include <string>

#include "device_command.h"
#include "kv_command.h"
#include "mem_command.h"
#include "sched_command.h"
#include "stats_command.h"

namespace {

void Usage(FILE* f) {
  std::fputs(
      "usage: wavectl COMMAND [ARGS]\n"
      "commands:\n"
      "  info    the device: ABI, NIC state and heartbeat, queues [--device SPEC] [--json]\n"
      "  ping    echo round trips across the link [--count N] [--json]\n"
      "  stats   NIC runtime statistics: per-actor mean/tail, queues, migrations, "
      "violations\n"
      "  sched   scheduling offload: start [--policy fifo|shinjuku] [--partial], stop, "
      "status [--json], run -- CMD\n"
      "  kv      the key-value store on the NIC: status --server ADDR:PORT [--json]\n"
      "  mem     memory offload: start --policy sol|age [--pid P | -- CMD], stop, "
      "status [--json], kill on|off\n",
      f);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    Usage(argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string cmd = argv[1];
  std::string out, err;
  int rc;
  if (cmd == "info")
    return wave::wavectl::RunInfo(argc - 1, argv + 1);
  if (cmd == "ping")
    return wave::wavectl::RunPing(argc - 1, argv + 1);
  if (cmd == "sched")
    return wave::wavectl::RunSched(argc - 1, argv + 1);
  if (cmd == "mem")
    return wave::wavectl::RunMem(argc - 1, argv + 1);
  if (cmd == "stats") {
    rc = wave::wavectl::RunStats(argc - 1, argv + 1, &out, &err);
  } else if (cmd == "kv") {
    rc = wave::wavectl::RunKv(argc - 1, argv + 1, &out, &err);
  } else {
    std::fprintf(stderr, "wavectl: unknown command '%s'\n", cmd.c_str());
    Usage(stderr);
    return 2;
  }
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  return rc;
}
