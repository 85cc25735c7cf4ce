#include "base/pidfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <string>

#include "base/unique_fd.h"

namespace wave::nic {

Status Pidfile::Write(const std::string& path) {
  // Written to a temporary name and renamed, so a reader never sees an empty or partial pid.
  std::string tmp = path + ".tmp";
  UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644));
  if (!fd) {
    return Status::Errno(tmp, errno);
  }
  std::string text = std::to_string(getpid()) + "\n";
  if (write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size())) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::Errno("write " + tmp, err);
  }
  fd.reset();
  if (rename(tmp.c_str(), path.c_str()) < 0) {
    int err = errno;
    unlink(tmp.c_str());
    return Status::Errno("rename " + path, err);
  }
  path_ = path;
  return Status::Ok();
}

Pidfile::~Pidfile() {
  if (path_.empty()) {
    return;
  }
  // Another wave-nicd may have taken the path over since; leave its file alone.
  char buf[32] = {};
  UniqueFd fd(open(path_.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd && read(fd.get(), buf, sizeof(buf) - 1) > 0 && std::stol(buf) == getpid()) {
    unlink(path_.c_str());
  }
}

}  // namespace wave::nic
