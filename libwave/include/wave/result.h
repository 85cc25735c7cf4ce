// Error reporting without exceptions: a Result<T> holds a value or an Error (errno + text).
#ifndef WAVE_RESULT_H_
#define WAVE_RESULT_H_

#include <string>
#include <utility>
#include <variant>

namespace wave {

struct Error {
  int code = 0;         // an errno value
  std::string message;  // what failed, for people
};

template <typename T>
class Result {
 public:
  Result(T value) : v_(std::move(value)) {}      // NOLINT: implicit on purpose
  Result(Error error) : v_(std::move(error)) {}  // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

// For operations that return nothing but may fail.
class Status {
 public:
  Status() = default;
  Status(Error error) : error_(std::move(error)), ok_(false) {}  // NOLINT
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return error_; }

 private:
  Error error_;
  bool ok_ = true;
};

// An Error from errno (or an explicit code) with context.
Error ErrnoError(std::string what, int code);

}  // namespace wave

#endif  // WAVE_RESULT_H_
