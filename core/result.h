#pragma once

#include <stdexcept>
#include <string>
#include <utility>
#include <variant>

namespace caloria {

// The exporter's one error idiom. A function that can fail for reasons
// outside the process (a bad flag, an unreachable database, an unreadable
// file) returns Result<T>: the value, or an Error whose message is one line
// naming the problem and its fix and holding no secret. Exceptions are left
// for bugs (and std::bad_alloc); they are caught only by the guard at the
// top of each thread (core/thread_guard.h), never used for control flow.
struct Error {
  std::string message;
};

// Wraps a message as an Error, so `return Fail("...")` reads as what it does.
inline Error Fail(std::string message) { return Error{std::move(message)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT: implicit
  Result(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT: implicit

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }

  // Reading the value of a failed Result is a bug, not an outside failure.
  const T& value() const& { return Checked(); }
  T& value() & { return Checked(); }
  T&& value() && { return std::move(Checked()); }
  const T& operator*() const& { return Checked(); }
  T& operator*() & { return Checked(); }
  const T* operator->() const { return &Checked(); }
  T* operator->() { return &Checked(); }

  const std::string& error() const {
    if (ok()) throw std::logic_error("Result::error() called on a value");
    return std::get<1>(state_).message;
  }

 private:
  const T& Checked() const {
    if (!ok()) throw std::logic_error("Result::value() called on an error: " + error());
    return std::get<0>(state_);
  }
  T& Checked() {
    if (!ok()) throw std::logic_error("Result::value() called on an error: " + error());
    return std::get<0>(state_);
  }

  std::variant<T, Error> state_;
};

// A Result with no value: success, or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error)), failed_(true) {}  // NOLINT: implicit

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const {
    if (ok()) throw std::logic_error("Result::error() called on a success");
    return error_.message;
  }

 private:
  Error error_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace caloria
