// `wavectl mem` is a thin front end of wave-mem-host, as `wavectl sched` is of wave-sched.
#include "mem_command.h"

#include "exec_tool.h"

#ifndef WAVE_MEM_HOST_BUILD_PATH
#define WAVE_MEM_HOST_BUILD_PATH ""
#endif

namespace wave::wavectl {

int RunMem(int argc, char** argv) {
  static constexpr const char* kUsage =
      "usage: wavectl mem start --policy sol|age [--pid P]... [options] [-- CMD [ARGS]]\n"
      "       wavectl mem stop | status [--json] | kill on|off\n"
      "  (options: see wave-mem-host --help)\n";
  return ExecTool(ToolPath("wave-mem-host", "WAVE_MEM_HOST_BIN", WAVE_MEM_HOST_BUILD_PATH), kUsage,
                  argc, argv);
}

}  // namespace wave::wavectl
