// A QEMU process driven through its qtest protocol (-qtest stdio): the test reads and writes
// guest-physical memory and I/O ports as a guest driver would, without booting a guest.
// Used to check wave-nicd against QEMU's real ivshmem-doorbell device.
#ifndef WAVE_NIC_FW_NICD_TESTS_QEMU_QTEST_H_
#define WAVE_NIC_FW_NICD_TESTS_QEMU_QTEST_H_

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/unique_fd.h"

namespace wave::nicd::testing {

class QemuQtest {
 public:
  QemuQtest() = default;
  ~QemuQtest();  // kills QEMU if it still runs

  // The QEMU binary from PATH, or "" if there is none.
  static std::string FindQemu();

  // Starts QEMU with `args` (after -qtest stdio -display none -nodefaults -S) and waits until
  // its machine is up. -S keeps the vCPU stopped: Debian's QEMU has no qtest accelerator, so
  // the machine runs on TCG, and a running firmware would race the test for the PCI config
  // ports and reprogram the BARs. QEMU's QMP monitor (on a socket at `qmp_path`) greets once
  // the main loop runs, after machine init and reset.
  bool Start(const std::string& qemu, const std::vector<std::string>& args,
             const std::string& qmp_path);
  // Sends one qtest command and returns its answer line ("OK ...", "FAIL ..."), or nullopt if
  // QEMU went away or did not answer within 30 s (QEMU on TCG starts slowly on a loaded machine).
  std::optional<std::string> Command(const std::string& line);

  uint32_t Inl(uint16_t port);
  void Outl(uint16_t port, uint32_t value);
  uint32_t Readl(uint64_t addr);
  void Writel(uint64_t addr, uint32_t value);
  uint16_t Readw(uint64_t addr);
  void Writew(uint64_t addr, uint16_t value);

  // PCI configuration space of bus 0 device `slot` function 0, through ports 0xcf8 / 0xcfc.
  uint32_t ConfigRead32(uint32_t slot, uint32_t reg);
  void ConfigWrite32(uint32_t slot, uint32_t reg, uint32_t value);

  // Stops QEMU (qtest "quit" is not a command; SIGTERM) and returns its exit status.
  int Stop();

 private:
  uint64_t ParseValue(const std::optional<std::string>& answer);
  bool WaitForQmpGreeting(const std::string& qmp_path);

  pid_t pid_ = -1;
  nic::UniqueFd to_qemu_;
  nic::UniqueFd from_qemu_;
  nic::UniqueFd qmp_;
  std::string buffer_;
};

}  // namespace wave::nicd::testing

#endif  // WAVE_NIC_FW_NICD_TESTS_QEMU_QTEST_H_
