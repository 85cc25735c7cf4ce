// A pid file that is removed again when wave-nicd exits (if it still names this process).
#ifndef WAVE_NIC_FW_NICD_PIDFILE_H_
#define WAVE_NIC_FW_NICD_PIDFILE_H_

#include <string>

#include "base/status.h"

namespace wave::nicd {

class Pidfile {
 public:
  Pidfile() = default;
  Pidfile(const Pidfile&) = delete;
  Pidfile& operator=(const Pidfile&) = delete;
  ~Pidfile();

  nic::Status Write(const std::string& path);

 private:
  std::string path_;
};

}  // namespace wave::nicd

#endif  // WAVE_NIC_FW_NICD_PIDFILE_H_
