#include "qemu_qtest.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <sstream>
#include <thread>

extern char** environ;

namespace wave::nicd::testing {

std::string QemuQtest::FindQemu() {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    std::string candidate = dir + "/qemu-system-x86_64";
    if (access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return "";
}

bool QemuQtest::Start(const std::string& qemu, const std::vector<std::string>& args,
                      const std::string& qmp_path) {
  int in[2];
  int out[2];
  if (pipe2(in, O_CLOEXEC) < 0) {
    return false;
  }
  if (pipe2(out, O_CLOEXEC) < 0) {
    close(in[0]);
    close(in[1]);
    return false;
  }
  nic::UniqueFd child_in(in[0]);
  to_qemu_.reset(in[1]);
  from_qemu_.reset(out[0]);
  nic::UniqueFd child_out(out[1]);

  std::vector<std::string> store = {qemu,
                                    "-qtest",
                                    "stdio",
                                    "-qtest-log",
                                    "/dev/null",
                                    "-display",
                                    "none",
                                    "-nodefaults",
                                    "-S",
                                    "-qmp",
                                    "unix:" + qmp_path + ",server=on,wait=off"};
  store.insert(store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& s : store) {
    argv.push_back(s.data());
  }
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_in.get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, child_out.get(), STDOUT_FILENO);
  int rc = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (rc != 0) {
    pid_ = -1;
    return false;
  }
  return WaitForQmpGreeting(qmp_path);
}

bool QemuQtest::WaitForQmpGreeting(const std::string& qmp_path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (qmp_path.size() >= sizeof(addr.sun_path)) {
    return false;
  }
  std::memcpy(addr.sun_path, qmp_path.c_str(), qmp_path.size() + 1);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  for (;;) {
    qmp_.reset(socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (connect(qmp_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
      break;
    }
    if (std::chrono::steady_clock::now() > deadline || waitpid(pid_, nullptr, WNOHANG) != 0) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  std::string greeting;
  while (greeting.find('\n') == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{qmp_.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) {
      return false;
    }
    char buf[256];
    ssize_t n = read(qmp_.get(), buf, sizeof(buf));
    if (n <= 0) {
      return false;
    }
    greeting.append(buf, static_cast<size_t>(n));
  }
  return greeting.find("QMP") != std::string::npos;
}

std::optional<std::string> QemuQtest::Command(const std::string& line) {
  std::string cmd = line + "\n";
  if (write(to_qemu_.get(), cmd.data(), cmd.size()) != static_cast<ssize_t>(cmd.size())) {
    return std::nullopt;
  }
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  for (;;) {
    size_t nl = buffer_.find('\n');
    if (nl != std::string::npos) {
      std::string answer = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      // Asynchronous lines (interrupt notices) are not answers.
      if (answer.rfind("OK", 0) == 0 || answer.rfind("FAIL", 0) == 0 ||
          answer.rfind("ERR", 0) == 0) {
        return answer;
      }
      continue;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    pollfd p{from_qemu_.get(), POLLIN, 0};
    if (left.count() <= 0 || poll(&p, 1, static_cast<int>(left.count())) != 1) {
      return std::nullopt;
    }
    char buf[512];
    ssize_t n = read(from_qemu_.get(), buf, sizeof(buf));
    if (n <= 0) {
      return std::nullopt;
    }
    buffer_.append(buf, static_cast<size_t>(n));
  }
}

uint64_t QemuQtest::ParseValue(const std::optional<std::string>& answer) {
  if (!answer || answer->rfind("OK ", 0) != 0) {
    return ~0ull;
  }
  return std::strtoull(answer->c_str() + 3, nullptr, 0);
}

static std::string Hex(uint64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

uint32_t QemuQtest::Inl(uint16_t port) {
  return static_cast<uint32_t>(ParseValue(Command("inl " + Hex(port))));
}
void QemuQtest::Outl(uint16_t port, uint32_t value) {
  Command("outl " + Hex(port) + " " + Hex(value));
}
uint32_t QemuQtest::Readl(uint64_t addr) {
  return static_cast<uint32_t>(ParseValue(Command("readl " + Hex(addr))));
}
void QemuQtest::Writel(uint64_t addr, uint32_t value) {
  Command("writel " + Hex(addr) + " " + Hex(value));
}
uint16_t QemuQtest::Readw(uint64_t addr) {
  return static_cast<uint16_t>(ParseValue(Command("readw " + Hex(addr))));
}
void QemuQtest::Writew(uint64_t addr, uint16_t value) {
  Command("writew " + Hex(addr) + " " + Hex(value));
}

uint32_t QemuQtest::ConfigRead32(uint32_t slot, uint32_t reg) {
  Outl(0xcf8, 0x80000000u | (slot << 11) | (reg & 0xfc));
  return Inl(0xcfc);
}

void QemuQtest::ConfigWrite32(uint32_t slot, uint32_t reg, uint32_t value) {
  Outl(0xcf8, 0x80000000u | (slot << 11) | (reg & 0xfc));
  Outl(0xcfc, value);
}

int QemuQtest::Stop() {
  if (pid_ < 0) {
    return -1;
  }
  to_qemu_.reset();  // end of qtest input; QEMU also gets SIGTERM in case it keeps running
  kill(pid_, SIGTERM);
  int status = 0;
  for (int i = 0; i < 5000; ++i) {
    pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_) {
      pid_ = -1;
      return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  return -1;
}

QemuQtest::~QemuQtest() {
  if (pid_ > 0) {
    kill(pid_, SIGKILL);
    waitpid(pid_, nullptr, 0);
  }
}

}  // namespace wave::nicd::testing
