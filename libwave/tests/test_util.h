// Helpers shared by the libwave tests: unique shm names, child processes, message patterns.
#ifndef WAVE_TESTS_TEST_UTIL_H_
#define WAVE_TESTS_TEST_UTIL_H_

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <string>

#include "wave/message_queue.h"

namespace wave::test {

// A shm name no other test (or concurrent test binary) uses.
std::string UniqueName(const std::string& tag);

// Runs fn in a forked child; the child exits with fn's return value (0 = success).
pid_t Spawn(const std::function<int()>& fn);
// Waits for pid; returns its exit code, or 128 + signal.
int Reap(pid_t pid);

// The i-th message of a test stream: every field derived from i, so a consumer can check
// that nothing was lost, duplicated, reordered or torn.
wave_task_event PatternEvent(uint64_t i);
bool CheckPatternEvent(const wave_task_event& e, uint64_t i);

}  // namespace wave::test

#endif  // WAVE_TESTS_TEST_UTIL_H_
