#pragma once

#include <ostream>
#include <string>
#include <utility>

namespace caloria {

// A value that must never reach a log line, a metric, a health page or an
// error message. It prints as *** wherever it is streamed; the plain value is
// only reachable through Reveal(), which makes every use easy to audit.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  // `text` with every occurrence of the value replaced by ***, for messages
  // from libraries that might echo it. Values under four characters are left
  // alone: replacing every "p" in a message would garble it and, by where the
  // stars land, give the value away.
  std::string ScrubFrom(std::string text) const {
    if (value_.size() < 4) return text;
    for (auto pos = text.find(value_); pos != std::string::npos; pos = text.find(value_, pos)) {
      text.replace(pos, value_.size(), "***");
    }
    return text;
  }

  friend std::ostream& operator<<(std::ostream& out, const Secret& secret) {
    return out << (secret.value_.empty() ? "" : "***");
  }
  bool operator==(const Secret& other) const { return value_ == other.value_; }

 private:
  std::string value_;
};

}  // namespace caloria
