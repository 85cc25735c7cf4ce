// The result of an operation that can fail: ok, or a message that says what went wrong.
// (std::expected is C++23; the firmware builds as C++20.)
#ifndef WAVE_NIC_FW_BASE_STATUS_H_
#define WAVE_NIC_FW_BASE_STATUS_H_

#include <string>
#include <utility>

namespace wave::nic {

class [[nodiscard]] Status {
 public:
  static Status Ok() { return Status(); }
  static Status Error(std::string message) { return Status(std::move(message)); }
  // An error for a failed system call: "what: strerror(err)".
  static Status Errno(const std::string& what, int err);

  bool ok() const { return !failed_; }
  const std::string& message() const { return message_; }

 private:
  Status() = default;
  explicit Status(std::string message) : failed_(true), message_(std::move(message)) {}

  bool failed_ = false;
  std::string message_;
};

}  // namespace wave::nic

#endif  // WAVE_NIC_FW_BASE_STATUS_H_
