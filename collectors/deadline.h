#pragma once

#include <chrono>

namespace caloria {

// The point in time by which a collector must give up. Every blocking call a
// collector makes (connect, query, file read) is bounded by it, so the poller
// keeps its interval even when a database hangs.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(Clock::time_point at) : at_(at) {}
  static Deadline After(Clock::duration budget) { return Deadline(Clock::now() + budget); }

  bool Expired() const { return Clock::now() >= at_; }
  std::chrono::milliseconds Remaining() const {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
    return left.count() > 0 ? left : std::chrono::milliseconds{0};
  }
  Clock::time_point At() const { return at_; }

 private:
  Clock::time_point at_;
};

}  // namespace caloria
