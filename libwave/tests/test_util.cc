#include "test_util.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace wave::test {

std::string UniqueName(const std::string& tag) {
  static std::atomic<int> counter{0};
  return "t-" + tag + "-" + std::to_string(::getpid()) + "-" + std::to_string(counter++);
}

pid_t Spawn(const std::function<int()>& fn) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    int rc = 1;
    rc = fn();
    ::_exit(rc);
  }
  return pid;
}

int Reap(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
  }
  if (WIFEXITED(status))
    return WEXITSTATUS(status);
  if (WIFSIGNALED(status))
    return 128 + WTERMSIG(status);
  return 255;
}

wave_task_event PatternEvent(uint64_t i) {
  wave_task_event e{};
  e.tid = static_cast<uint32_t>(1 + i % 100000);
  e.cpu = static_cast<uint32_t>(i % 8);
  e.task_seq = i;
  e.time_ns = i * 0x9e3779b97f4a7c15ull;
  e.runtime_ns = ~i;
  e.cpumask = (i << 17) ^ 0x5555aaaa5555aaaaull;
  e.weight = static_cast<uint32_t>(i * 31);
  e.flags = 0;
  return e;
}

bool CheckPatternEvent(const wave_task_event& e, uint64_t i) {
  const wave_task_event want = PatternEvent(i);
  return std::memcmp(&e, &want, sizeof(e)) == 0;
}

}  // namespace wave::test
