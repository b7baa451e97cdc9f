#pragma once

#include <atomic>
#include <cmath>
#include <memory>
#include <optional>

namespace caloria {

// The users the database collector counted in the current poll, for the
// backup collector to compare a backup's users against. Atomic so that a
// parallel poller stays correct.
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

// What a collector learns in one poll and hands to collectors that run after
// it in the same poll. Each field names its writer; a reader lists that
// writer in its CollectorSpec::runs_after, so the registry runs it later.
struct SharedObservations {
  // Written by the database collector, read by the backup collector.
  std::shared_ptr<LiveUserCount> live_users = std::make_shared<LiveUserCount>();
};

}  // namespace caloria
