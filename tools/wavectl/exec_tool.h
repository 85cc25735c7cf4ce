// Subcommands whose work belongs to a daemon of their own (wave-sched, wave-mem-host): wavectl
// replaces itself with that program rather than linking its libraries in.
#pragma once

#include <string>

namespace wave::wavectl {

// Where a tool is: $env_var, else build_path when it is executable, else the name (PATH).
std::string ToolPath(const char* name, const char* env_var, const char* build_path);

// Prints usage for `wavectl SUB` without arguments or with -h/--help; otherwise runs
// tool with argv[1..]. Returns only when it could not run it, with the exit status.
int ExecTool(const std::string& tool, const char* usage, int argc, char** argv);

}  // namespace wave::wavectl
