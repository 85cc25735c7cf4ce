// `wavectl sched`: start, stop and inspect the scheduling offload (bpf/wave_sched.bpf.c).
#pragma once

namespace wave::wavectl {

// Runs `wavectl sched start|stop|status|run ...` (argv[0] is "sched") by handing the
// arguments to the wave-sched loader, which owns the BPF scheduler and the scheduling link.
// Returns only on failure to start it, with the process exit status.
int RunSched(int argc, char** argv);

}  // namespace wave::wavectl
