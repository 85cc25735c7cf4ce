// A pid file that is removed again when the program exits (if it still names this process):
// wave-nicd and the emulation's wave-nic-function write one for the scripts that stop them.
#ifndef WAVE_NIC_FW_BASE_PIDFILE_H_
#define WAVE_NIC_FW_BASE_PIDFILE_H_

#include <string>

#include "base/status.h"

namespace wave::nic {

class Pidfile {
 public:
  Pidfile() = default;
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
  ~Pidfile();

  Status Write(const std::string& path);

 private:
  std::string path_;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_PIDFILE_H_
