// wavectl: inspect and control Wave from the host. Subcommands:
//   stats   the NIC actor runtime's statistics (table or JSON)
#include <cstdio>
#include <cstring>
#include <string>

#include "stats_command.h"

namespace {

void Usage(FILE* f) {
  std::fputs("usage: wavectl COMMAND [ARGS]\n"
             "commands:\n"
             "  stats   NIC runtime statistics: per-actor mean/tail, queues, migrations, "
             "violations\n",
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
  if (cmd == "stats") {
    rc = wave::wavectl::RunStats(argc - 1, argv + 1, &out, &err);
  } else {
    std::fprintf(stderr, "wavectl: unknown command '%s'\n", cmd.c_str());
    Usage(stderr);
    return 2;
  }
  std::fputs(out.c_str(), stdout);
  std::fputs(err.c_str(), stderr);
  return rc;
}
