// `wavectl sched` is a thin front end: the loader (wave-sched, built from bpf/) holds the
// libbpf skeleton and the link, and must keep running as a daemon after `start` returns, so
// wavectl replaces itself with it rather than linking libbpf and the skeleton in.
#include "sched_command.h"

#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace wave::wavectl {
namespace {

constexpr const char* kUsage =
    "usage: wavectl sched start [--policy fifo|shinjuku|none] [--partial] [options]\n"
    "       wavectl sched stop | status [--json] | run -- CMD [ARGS]\n"
    "  (options: see wave-sched --help)\n";

// Where wave-sched is: $WAVE_SCHED_BIN, the build tree's copy, or the PATH.
std::string LoaderPath() {
  if (const char* env = std::getenv("WAVE_SCHED_BIN"); env && *env)
    return env;
#ifdef WAVE_SCHED_BUILD_PATH
  if (access(WAVE_SCHED_BUILD_PATH, X_OK) == 0)
    return WAVE_SCHED_BUILD_PATH;
#endif
  return "wave-sched";
}

}  // namespace

int RunSched(int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  const std::string loader = LoaderPath();
  std::vector<char*> args;
  args.push_back(const_cast<char*>(loader.c_str()));
  for (int i = 1; i < argc; i++)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  execvp(loader.c_str(), args.data());
  std::fprintf(stderr, "wavectl sched: cannot run %s: %s\n", loader.c_str(), std::strerror(errno));
  return 127;
}

}  // namespace wave::wavectl
