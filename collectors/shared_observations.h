#pragma once

#include <atomic>
#include <cmath>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "collectors/database/connection_handover.h"
#include "config/sqlalchemy_url.h"

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

// One value a collector publishes for later collectors of the same poll.
template <typename T>
class Observed {
 public:
  void Set(std::optional<T> value) {
    std::lock_guard<std::mutex> lock(mutex_);
    value_ = std::move(value);
  }
  std::optional<T> Get() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return value_;
  }

 private:
  mutable std::mutex mutex_;
  std::optional<T> value_;
};

// What the running app says or shows about its database, from one source
// (its health endpoint, or its process).
struct AppView {
  // The database type the app is on; nullopt when this source cannot tell
  // (the probe failed, the process has no DATABASE_URL and holds no file).
  std::optional<DatabaseType> database_type;
  std::string
      evidence;  // one line for the consistency check, e.g. "its /health/database says SQLITE"
  std::optional<double> users;  // the app's own user count (probe only)
};

// The SQLite file the app would fall back to without DATABASE_URL.
struct FallbackView {
  std::string path;
  bool exists = false;
  // Modified within --fallback.recent-window, or gained users since the
  // previous poll: the app is writing to it now.
  bool being_written = false;
  std::optional<double> users;
};

// What a collector learns in one poll and hands to collectors that run after
// it in the same poll. Each field names its writer; a reader lists that
// writer in its CollectorSpec::runs_after, so the registry runs it later. A
// writer that is switched off leaves its field empty.
struct SharedObservations {
  // Written by database; read by backup and consistency.
  std::shared_ptr<LiveUserCount> live_users = std::make_shared<LiveUserCount>();
  // Written by database (whether it could connect in this poll); read by
  // pg_stats, which does not wait a second time on a server that is down.
  std::shared_ptr<Observed<bool>> database_up = std::make_shared<Observed<bool>>();
  // Given by database (its connection, once the users query answered); taken
  // and closed by pg_stats, which expects it when built.
  std::shared_ptr<ConnectionHandOver> postgres_handover = std::make_shared<ConnectionHandOver>();
  // Written by app_probe; read by consistency.
  std::shared_ptr<Observed<AppView>> app_probe = std::make_shared<Observed<AppView>>();
  // Written by app_process; read by consistency.
  std::shared_ptr<Observed<AppView>> app_process = std::make_shared<Observed<AppView>>();
  // Written by fallback_sqlite; read by consistency.
  std::shared_ptr<Observed<FallbackView>> fallback = std::make_shared<Observed<FallbackView>>();
};

}  // namespace caloria
