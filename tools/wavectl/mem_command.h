// `wavectl mem`: start, stop and inspect the memory-management offload (tools/mem-host).
#pragma once

namespace wave::wavectl {

// Runs `wavectl mem start|stop|status|kill ...` (argv[0] is "mem") by handing the arguments
// to wave-mem-host, the host's memory mechanism, which owns the memory link, DAMON and the
// enactor and keeps running as a daemon after `start`. Returns only on failure to run it.
int RunMem(int argc, char** argv);

}  // namespace wave::wavectl
