// Runs the real wave-nicd binary as a child process for tests: starts it with a private
// socket path, waits for its ready line, and stops it with a signal.
#ifndef WAVE_NIC_FW_NICD_TESTS_NICD_PROCESS_H_
#define WAVE_NIC_FW_NICD_TESTS_NICD_PROCESS_H_

#include <sys/types.h>

#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "base/unique_fd.h"

namespace wave::nicd::testing {

// A fresh directory under TMPDIR (or /tmp), removed with its files on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

class NicdProcess {
 public:
  // Runs `binary` (default: wave-nicd); it is ready once it printed a line that starts with
  // `ready_prefix`.
  explicit NicdProcess(std::string binary = BinaryPath(),
                       std::string ready_prefix = "wave-nicd: ready ")
      : binary_(std::move(binary)), ready_prefix_(std::move(ready_prefix)) {}
  ~NicdProcess();  // SIGKILLs a child that is still running

  // Starts wave-nicd with `args`; returns once it printed its ready line (true) or exited or
  // timed out (false; exit_status() then tells how it ended if it exited).
  bool Start(const std::vector<std::string>& args,
             std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // Runs wave-nicd to completion (for argument errors); returns its exit status, -1 on
  // timeout.
  static int RunToExit(const std::vector<std::string>& args, std::string* stderr_text,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  // The same for another binary.
  static int RunToExit(const std::string& binary, const std::vector<std::string>& args,
                       std::string* stderr_text,
                       std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

  // Sends `signo` and waits for exit; returns the exit status (128 + signal if killed by
  // one, -1 on timeout).
  int Stop(int signo, std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));
  bool running();

  pid_t pid() const { return pid_; }
  const std::string& ready_line() const { return ready_line_; }
  // A key=value field of the ready line ("socket", "shm", ...).
  std::string ReadyField(const std::string& key) const;
  int exit_status() const { return exit_status_; }

  static std::string BinaryPath();

 private:
  static pid_t Spawn(const std::string& binary, const std::vector<std::string>& args, int stdout_fd,
                     int stderr_fd);
  static int WaitExit(pid_t pid, std::chrono::milliseconds timeout);

  std::string binary_;
  std::string ready_prefix_;
  pid_t pid_ = -1;
  nic::UniqueFd stdout_;
  std::string ready_line_;
  int exit_status_ = -1;
};

}  // namespace wave::nicd::testing

#endif  // WAVE_NIC_FW_NICD_TESTS_NICD_PROCESS_H_
