#pragma once

#include <atomic>
#include <chrono>

namespace caloria {

// The point in time by which a collector must give up. Every blocking call a
// collector makes (connect, query, file read) is bounded by it, so the poller
// keeps its interval even when a database hangs.
class Deadline {
 public:
  using Clock = std::chrono::steady_clock;

  explicit Deadline(Clock::time_point at, const std::atomic<bool>* cancelled = nullptr)
      : at_(at), cancelled_(cancelled) {}
  static Deadline After(Clock::duration budget) { return Deadline(Clock::now() + budget); }

  // The same deadline, also expired as soon as *cancelled turns true: lets a
  // long background job (verifying a 1 GB backup) stop at shutdown.
  Deadline CancelledBy(const std::atomic<bool>& cancelled) const {
    return Deadline(at_, &cancelled);
  }

  bool Expired() const {
    return (cancelled_ && cancelled_->load(std::memory_order_relaxed)) || Clock::now() >= at_;
  }
  std::chrono::milliseconds Remaining() const {
    if (Expired()) return std::chrono::milliseconds{0};
    return std::chrono::duration_cast<std::chrono::milliseconds>(at_ - Clock::now());
  }

 private:
  Clock::time_point at_;
  const std::atomic<bool>* cancelled_;
};

}  // namespace caloria
