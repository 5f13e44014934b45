// Result<T>: a value or an error message. Used at boundaries where failure is
// normal (parsing, config, upstream I/O). A caller cannot read the value of a
// failed result without checking: value() on an error aborts.
#pragma once
#include <cstdlib>
#include <string>
#include <utility>
#include <variant>

namespace portcullis {

struct Error {
  std::string message;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error error) : v_(std::move(error)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    if (!ok()) std::abort();
    return std::get<0>(v_);
  }
  const T& value() const& {
    if (!ok()) std::abort();
    return std::get<0>(v_);
  }
  T&& value() && {
    if (!ok()) std::abort();
    return std::get<0>(std::move(v_));
  }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const std::string& error() const { return std::get<1>(v_).message; }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error error) : error_(std::move(error.message)), failed_(true) {}
  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  const std::string& error() const { return error_; }

 private:
  std::string error_;
  bool failed_ = false;
};

inline Error fail(std::string message) { return Error{std::move(message)}; }

}  // namespace portcullis
