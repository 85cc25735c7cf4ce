#include "nicd_process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <thread>

extern char** environ;

namespace wave::nicd::testing {
namespace {

int StatusToCode(int status) {
  if (WIFEXITED(status)) {
    return WEXITSTATUS(status);
  }
  if (WIFSIGNALED(status)) {
    return 128 + WTERMSIG(status);
  }
  return -1;
}

}  // namespace

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl =
      std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/wave-nicd-test-XXXXXX";
  if (mkdtemp(tmpl.data()) != nullptr) {
    path_ = tmpl;
  }
}

TempDir::~TempDir() {
  if (!path_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
}

std::string NicdProcess::BinaryPath() {
  return WAVE_NICD_PATH;
}

pid_t NicdProcess::Spawn(const std::string& binary, const std::vector<std::string>& args,
                         int stdout_fd, int stderr_fd) {
  std::vector<std::string> argv_store;
  argv_store.push_back(binary);
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : argv_store) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stdout_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stdout_fd, STDOUT_FILENO);
  }
  if (stderr_fd >= 0) {
    posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  }
  // The child starts with default signal handling and nothing blocked, whatever gtest set.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t none;
  sigemptyset(&none);
  sigset_t defaults;
  sigemptyset(&defaults);
  sigaddset(&defaults, SIGTERM);
  sigaddset(&defaults, SIGINT);
  sigaddset(&defaults, SIGPIPE);
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  pid_t pid = -1;
  if (posix_spawn(&pid, argv[0], &actions, &attr, argv.data(), environ) != 0) {
    pid = -1;
  }
  posix_spawnattr_destroy(&attr);
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

int NicdProcess::WaitExit(pid_t pid, std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      return StatusToCode(status);
    }
    if (r < 0 && errno != EINTR) {
      return -1;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return -1;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
}

bool NicdProcess::Start(const std::vector<std::string>& args, std::chrono::milliseconds timeout) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    return false;
  }
  nic::UniqueFd read_end(pipefd[0]);
  nic::UniqueFd write_end(pipefd[1]);
  pid_ = Spawn(binary_, args, write_end.get(), -1);
  write_end.reset();
  if (pid_ < 0) {
    return false;
  }
  stdout_ = std::move(read_end);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  std::string out;
  while (out.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{stdout_.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) {
      return false;
    }
    char buf[256];
    ssize_t n = read(stdout_.get(), buf, sizeof(buf));
    if (n <= 0) {
      exit_status_ = WaitExit(pid_, std::chrono::milliseconds(1000));
      if (exit_status_ >= 0) {
        pid_ = -1;
      }
      return false;
    }
    out.append(buf, static_cast<size_t>(n));
  }
  ready_line_ = out.substr(0, out.find('\n'));
  return ready_line_.rfind(ready_prefix_, 0) == 0;
}

int NicdProcess::RunToExit(const std::vector<std::string>& args, std::string* stderr_text,
                           std::chrono::milliseconds timeout) {
  return RunToExit(BinaryPath(), args, stderr_text, timeout);
}

int NicdProcess::RunToExit(const std::string& binary, const std::vector<std::string>& args,
                           std::string* stderr_text, std::chrono::milliseconds timeout) {
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) < 0) {
    return -1;
  }
  nic::UniqueFd read_end(pipefd[0]);
  nic::UniqueFd write_end(pipefd[1]);
  nic::UniqueFd null(open("/dev/null", O_WRONLY | O_CLOEXEC));
  pid_t pid = Spawn(binary, args, null.get(), write_end.get());
  write_end.reset();
  if (pid < 0) {
    return -1;
  }
  std::string text;
  char buf[512];
  ssize_t n;
  while ((n = read(read_end.get(), buf, sizeof(buf))) > 0) {
    text.append(buf, static_cast<size_t>(n));
  }
  if (stderr_text != nullptr) {
    *stderr_text = text;
  }
  int code = WaitExit(pid, timeout);
  if (code < 0) {
    kill(pid, SIGKILL);
    WaitExit(pid, std::chrono::milliseconds(1000));
  }
  return code;
}

int NicdProcess::Stop(int signo, std::chrono::milliseconds timeout) {
  if (pid_ < 0) {
    return exit_status_;
  }
  kill(pid_, signo);
  exit_status_ = WaitExit(pid_, timeout);
  if (exit_status_ >= 0) {
    pid_ = -1;
  }
  return exit_status_;
}

bool NicdProcess::running() {
  if (pid_ < 0) {
    return false;
  }
  int status = 0;
  pid_t r = waitpid(pid_, &status, WNOHANG);
  if (r == pid_) {
    exit_status_ = StatusToCode(status);
    pid_ = -1;
    return false;
  }
  return true;
}

std::string NicdProcess::ReadyField(const std::string& key) const {
  std::string needle = " " + key + "=";
  size_t at = ready_line_.find(needle);
  if (at == std::string::npos) {
    return "";
  }
  at += needle.size();
  size_t end = ready_line_.find(' ', at);
  return ready_line_.substr(at, end == std::string::npos ? std::string::npos : end - at);
}

NicdProcess::~NicdProcess() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    WaitExit(pid_, std::chrono::milliseconds(2000));
  }
}

}  // namespace wave::nicd::testing
