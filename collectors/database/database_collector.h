#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/sqlalchemy_url.h"

namespace caloria {

struct DatabaseTarget {
  SqlalchemyUrl url;
  std::string sqlite_path;  // absolute; empty for PostgreSQL and in-memory SQLite
  std::string users_query;
};

// What one connect-and-count found.
struct DatabaseObservation {
  bool up = false;
  std::optional<double> connect_seconds;
  std::optional<double> query_seconds;
  std::optional<double> users;
  std::string connect_error;
  std::string query_error;
};

// Connects to the app's database afresh at every run, as the app's own
// health check would: a kept-open connection would hide exactly the
// failures (authentication, pg_hba, max_connections, a moved file) that a
// restarted app would hit. Then runs the users query, read-only.
class DatabaseCollector : public Collector {
 public:
  // Where to connect, asked at every run: a configuration reload may point
  // the exporter at another database.
  using TargetSource = std::function<DatabaseTarget()>;

  // `live_users` (may be null) receives each poll's count for the backup
  // collector.
  explicit DatabaseCollector(const DatabaseTarget& target,
                             std::shared_ptr<LiveUserCount> live_users = nullptr);
  // `database_up` (may be null) receives whether this poll could connect.
  // `handover` (may be null) receives the PostgreSQL connection once the
  // users query answered, when a taker (pg_stats) expects it; else the
  // connection closes at the end of the run.
  DatabaseCollector(TargetSource source, std::shared_ptr<LiveUserCount> live_users,
                    std::shared_ptr<Observed<bool>> database_up = nullptr,
                    std::shared_ptr<ConnectionHandOver> handover = nullptr);

  std::string Name() const override { return "database"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  DatabaseObservation ObservePostgres(const Deadline& deadline);
  DatabaseObservation ObserveSqlite(const Deadline& deadline);
  CollectorResult Publish(const DatabaseObservation& seen) const;

  TargetSource source_;
  DatabaseTarget target_;  // the latest from source_
  std::shared_ptr<LiveUserCount> live_users_;
  std::shared_ptr<Observed<bool>> database_up_;
  std::shared_ptr<ConnectionHandOver> handover_;
  // Kept from the last successful connect, so caloria_database_info does not
  // change series while the database is down.
  std::string server_version_;
};

// Reads the users query's single value as a non-negative count.
std::optional<double> ParseUserCount(const std::string& text);

// --[no-]collector.database and --database.users-query.
CollectorSpec DatabaseCollectorSpec();

}  // namespace caloria
