// `wavectl stats`: the NIC actor runtime's statistics, read from the control page's NIC stats
// area (uapi/wave_stats.h) and printed as a table or as JSON.
#pragma once

#include <string>

namespace wave::wavectl {

// Runs `wavectl stats ARGS...` (argv[0] is "stats"); output and errors go to the strings.
// Returns the process exit status.
int RunStats(int argc, const char* const* argv, std::string* out, std::string* err);

}  // namespace wave::wavectl
