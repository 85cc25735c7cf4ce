// Tracked processes of the memory offload: each gets a target id, the number the memory link
// (uapi/wave_mem.h) carries in regions and decisions. A target holds a pidfd and the
// process's start time (/proc/PID/stat field 22), so a pid that was reused by another process
// is told apart from the process that was added.
#ifndef WAVE_MEM_HOST_TARGET_TABLE_H_
#define WAVE_MEM_HOST_TARGET_TABLE_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <vector>

#include "wave/result.h"

namespace wave::mem {

// One tracked process. Immutable once added; the pidfd is closed when the last reference
// goes (the table's, or an Enactor's in the middle of a decision).
struct Target {
  uint32_t id = 0;
  pid_t pid = 0;
  int pidfd = -1;
  uint64_t start_time = 0;  // clock ticks after boot, /proc/PID/stat field 22

  Target() = default;
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;
  ~Target();
};

// Whether the target still names the process it was added for.
enum class Liveness : uint8_t {
  kAlive,   // running (or stopped), same start time
  kExited,  // the pidfd reports that the process exited (a zombie counts as exited)
  kReused,  // the pid now names another process (its start time differs)
};

// The start time of pid (/proc/PID/stat field 22), or an error (ENOENT: no such process).
Result<uint64_t> ProcessStartTime(pid_t pid);

// kAlive, kExited or kReused for t (see Liveness).
Liveness CheckLiveness(const Target& t);

// Thread safe: the Enactor and the Collector may use it from other threads than the one
// adding and removing targets.
class TargetTable {
 public:
  TargetTable() = default;
  TargetTable(const TargetTable&) = delete;
  TargetTable& operator=(const TargetTable&) = delete;

  // Starts tracking pid: opens a pidfd, reads the start time. Ids start at 1 and are never
  // reused within a table. EEXIST if pid is already tracked (as the same process).
  Result<uint32_t> Add(pid_t pid);
  // For tests: a target whose recorded start time is start_time (a mismatch fakes a pid that
  // was reused by another process).
  Result<uint32_t> AddWithStartTime(pid_t pid, uint64_t start_time);

  std::shared_ptr<const Target> Find(uint32_t id) const;
  bool Remove(uint32_t id);
  // Every target, by id.
  std::vector<std::shared_ptr<const Target>> All() const;
  size_t size() const;

 private:
  mutable std::mutex mu_;
  std::map<uint32_t, std::shared_ptr<const Target>> targets_;
  uint32_t next_id_ = 1;
};

}  // namespace wave::mem

#endif  // WAVE_MEM_HOST_TARGET_TABLE_H_
