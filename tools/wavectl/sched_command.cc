// `wavectl sched` is a thin front end: the loader (wave-sched, built from bpf/) holds the
// libbpf skeleton and the link, and must keep running as a daemon after `start` returns, so
// wavectl replaces itself with it rather than linking libbpf and the skeleton in.
#include "sched_command.h"

#include "exec_tool.h"

#ifndef WAVE_SCHED_BUILD_PATH
#define WAVE_SCHED_BUILD_PATH ""
#endif

namespace wave::wavectl {

int RunSched(int argc, char** argv) {
  static constexpr const char* kUsage =
      "usage: wavectl sched start [--policy fifo|shinjuku|vm|none] [--partial] [options]\n"
      "         [--vm CGROUP_DIR:CPULIST[:cosched|apart][:pack]]...  (policy vm, repeatable)\n"
      "       wavectl sched stop | status [--json] | run -- CMD [ARGS]\n"
      "  (options: see wave-sched --help)\n";
  return ExecTool(ToolPath("wave-sched", "WAVE_SCHED_BIN", WAVE_SCHED_BUILD_PATH), kUsage, argc,
                  argv);
}

}  // namespace wave::wavectl
