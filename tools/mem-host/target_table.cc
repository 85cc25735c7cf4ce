#include "target_table.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace wave::mem {
namespace {

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif

int PidfdOpen(pid_t pid) {
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
}

}  // namespace

Target::~Target() {
  if (pidfd >= 0)
    close(pidfd);
}

Result<uint64_t> ProcessStartTime(pid_t pid) {
  char path[64];
  snprintf(path, sizeof(path), "/proc/%d/stat", static_cast<int>(pid));
  const int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0)
    return ErrnoError(std::string("open ") + path, errno);
  char buf[1024];
  const ssize_t n = read(fd, buf, sizeof(buf) - 1);
  const int err = errno;
  close(fd);
  if (n <= 0)
    return ErrnoError(std::string("read ") + path, n < 0 ? err : ESRCH);
  buf[n] = 0;
  // comm (field 2) may hold spaces and parentheses: fields 3.. follow the last ')'.
  std::string s(buf, static_cast<size_t>(n));
  const size_t paren = s.rfind(')');
  if (paren == std::string::npos)
    return Error{EINVAL, std::string("no comm in ") + path};
  const char* p = s.c_str() + paren + 1;
  // Field 3 is the first after ')'; field 22 is the 20th from there.
  for (int field = 3; field < 22; field++) {
    while (*p == ' ')
      p++;
    while (*p != ' ' && *p != 0)
      p++;
    if (*p == 0)
      return Error{EINVAL, std::string("short ") + path};
  }
  char* end = nullptr;
  const unsigned long long v = strtoull(p, &end, 10);
  if (end == p)
    return Error{EINVAL, std::string("no start time in ") + path};
  return static_cast<uint64_t>(v);
}

Liveness CheckLiveness(const Target& t) {
  // A pidfd polls readable once its process has exited.
  pollfd pfd{t.pidfd, POLLIN, 0};
  const int r = poll(&pfd, 1, 0);
  if (r != 0)
    return Liveness::kExited;
  Result<uint64_t> st = ProcessStartTime(t.pid);
  if (!st.ok())
    return Liveness::kExited;
  return *st == t.start_time ? Liveness::kAlive : Liveness::kReused;
}

Result<uint32_t> TargetTable::Add(pid_t pid) {
  Result<uint64_t> st = ProcessStartTime(pid);
  if (!st.ok())
    return st.error();
  return AddWithStartTime(pid, *st);
}

Result<uint32_t> TargetTable::AddWithStartTime(pid_t pid, uint64_t start_time) {
  if (pid <= 0)
    return Error{EINVAL, "pid must be positive"};
  const int fd = PidfdOpen(pid);
  if (fd < 0)
    return ErrnoError("pidfd_open " + std::to_string(pid), errno);
  auto t = std::make_shared<Target>();
  t->pid = pid;
  t->pidfd = fd;
  t->start_time = start_time;
  std::lock_guard<std::mutex> lock(mu_);
  for (const auto& [id, other] : targets_) {
    if (other->pid == pid && other->start_time == start_time)
      return Error{EEXIST,
                   "pid " + std::to_string(pid) + " is already target " + std::to_string(id)};
  }
  t->id = next_id_++;
  const uint32_t id = t->id;
  targets_.emplace(id, std::move(t));
  return id;
}

std::shared_ptr<const Target> TargetTable::Find(uint32_t id) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = targets_.find(id);
  return it == targets_.end() ? nullptr : it->second;
}

bool TargetTable::Remove(uint32_t id) {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_.erase(id) != 0;
}

std::vector<std::shared_ptr<const Target>> TargetTable::All() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<std::shared_ptr<const Target>> out;
  out.reserve(targets_.size());
  for (const auto& [id, t] : targets_)
    out.push_back(t);
  return out;
}

size_t TargetTable::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return targets_.size();
}

}  // namespace wave::mem
