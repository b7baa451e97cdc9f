#pragma once

#include <atomic>
#include <cmath>
#include <optional>

namespace caloria {

// The users the database collector counted in the current poll, for the
// backup collector to compare a backup's users against. Written by one
// collector and read by another on the same poller thread; atomic so that
// a future parallel poller stays correct.
class LiveUserCount {
 public:
  void Set(std::optional<double> users) { value_.store(users ? *users : NAN); }
  std::optional<double> Get() const {
    const double value = value_.load();
    if (std::isnan(value)) return std::nullopt;
    return value;
  }

 private:
  std::atomic<double> value_{NAN};
};

}  // namespace caloria
