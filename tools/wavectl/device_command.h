// `wavectl info` and `wavectl ping`: what the host sees of a Wave device, and a round trip
// across its link (bytes through the WC message mapping, the NIC's echo service, bytes back
// through the WT mapping, and the interrupt that says they are there).
#pragma once

namespace wave::wavectl {

// Both return the process exit status; argv[0] is the subcommand's name.
int RunInfo(int argc, char** argv);
int RunPing(int argc, char** argv);

}  // namespace wave::wavectl
