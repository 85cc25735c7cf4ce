#include "base/program.h"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <string_view>

namespace wave::nic {
namespace {

bool ParseU64(const std::string& text, uint64_t* out, size_t* used) {
  if (text.empty() || text[0] == '-' || text[0] == '+' || text[0] == ' ') {
    return false;
  }
  errno = 0;
  char* end = nullptr;
  unsigned long long v = std::strtoull(text.c_str(), &end, 0);
  if (errno != 0 || end == text.c_str()) {
    return false;
  }
  *out = v;
  *used = static_cast<size_t>(end - text.c_str());
  return true;
}

}  // namespace

bool ParseU32(const std::string& text, uint64_t min, uint64_t max, uint32_t* out) {
  uint64_t v;
  size_t used;
  if (!ParseU64(text, &v, &used) || used != text.size() || v < min || v > max) {
    return false;
  }
  *out = static_cast<uint32_t>(v);
  return true;
}

bool ParseSize(const std::string& text, uint64_t* out) {
  uint64_t v;
  size_t used;
  if (!ParseU64(text, &v, &used)) {
    return false;
  }
  std::string_view suffix = std::string_view(text).substr(used);
  unsigned shift = 0;
  if (suffix.empty()) {
    shift = 0;
  } else if (suffix == "K" || suffix == "k" || suffix == "KiB") {
    shift = 10;
  } else if (suffix == "M" || suffix == "m" || suffix == "MiB") {
    shift = 20;
  } else if (suffix == "G" || suffix == "g" || suffix == "GiB") {
    shift = 30;
  } else {
    return false;
  }
  if (shift > 0 && v > (UINT64_MAX >> shift)) {
    return false;
  }
  *out = v << shift;
  return true;
}

sigset_t TerminationSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  return set;
}

void BlockTerminationSignals() {
  sigset_t set = TerminationSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  // A peer that vanishes mid-send must cost a failed send, not the process.
  signal(SIGPIPE, SIG_IGN);
}

}  // namespace wave::nic
