#include "exec_tool.h"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace wave::wavectl {

std::string ToolPath(const char* name, const char* env_var, const char* build_path) {
  if (const char* env = std::getenv(env_var); env && *env)
    return env;
  if (build_path != nullptr && *build_path && access(build_path, X_OK) == 0)
    return build_path;
  return name;
}

int ExecTool(const std::string& tool, const char* usage, int argc, char** argv) {
  if (argc < 2 || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "--help")) {
    std::fputs(usage, argc < 2 ? stderr : stdout);
    return argc < 2 ? 2 : 0;
  }
  std::vector<char*> args;
  args.push_back(const_cast<char*>(tool.c_str()));
  for (int i = 1; i < argc; i++)
    args.push_back(argv[i]);
  args.push_back(nullptr);
  execvp(tool.c_str(), args.data());
  std::fprintf(stderr, "wavectl %s: cannot run %s: %s\n", argv[0], tool.c_str(),
               std::strerror(errno));
  return 127;
}

}  // namespace wave::wavectl
