#pragma once

#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/config_store.h"

namespace caloria {

// Everything the consistency verdict depends on, from one poll.
struct ConsistencyFacts {
  DatabaseType configured_type = DatabaseType::kPostgresql;  // from the app's env file
  ExpectedType expected_type = ExpectedType::kAny;
  std::optional<AppView> probe;    // the app's health page; nullopt: not probed or failed
  std::optional<AppView> process;  // the app's process; nullopt: not watched or not found
  std::optional<FallbackView> fallback;
  std::optional<double> database_users;  // counted by the database collector
  double users_tolerance = 0;
};

struct ConsistencyVerdict {
  HealthStatus status = HealthStatus::kHealthy;
  std::vector<Problem> problems;     // app_database_unexpected, app_users_differ
  std::vector<std::string> reasons;  // one line each, for the check, every finding
};

// The app is on another database than the one it is configured for (or
// expected to use): unhealthy, problem app_database_unexpected. The fallback
// file is being written while PostgreSQL is configured or expected: unhealthy
// (the fallback_sqlite collector reports its own problem). The app's user
// count and the database's differ by more than the tolerance: degraded,
// problem app_users_differ.
ConsistencyVerdict JudgeConsistency(const ConsistencyFacts& facts);

// The one verdict on whether the running app and its configured database
// agree, from what the database, app_probe, app_process and fallback_sqlite
// collectors saw earlier in the same poll: the /health check "consistency".
class ConsistencyCollector : public Collector {
 public:
  ConsistencyCollector(const ConfigStore& store, const SharedObservations& shared,
                       double users_tolerance);

  std::string Name() const override { return "consistency"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  const ConfigStore& store_;
  SharedObservations shared_;  // shared pointers to what the other collectors publish
  double users_tolerance_;
};

// --[no-]collector.consistency and --app.users-tolerance.
CollectorSpec ConsistencyCollectorSpec();

}  // namespace caloria
