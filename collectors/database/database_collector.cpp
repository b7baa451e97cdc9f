#include "collectors/database/database_collector.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <utility>

#include "collectors/database/postgres_connection.h"
#include "collectors/database/sqlite_connection.h"
#include "collectors/database/users_query.h"
#include "core/clock.h"

namespace caloria {
namespace {

using Stopwatch = std::chrono::steady_clock;

double SecondsSince(Stopwatch::time_point start) {
  return std::chrono::duration<double>(Stopwatch::now() - start).count();
}

std::string UpperCase(std::string text) {
  for (char& c : text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return text;
}

// What follows a successful connect is the same for both databases: time
// the connect, then count the users under the same deadline.
template <typename Connection>
void ObserveConnected(Connection& connection, Stopwatch::time_point connect_start,
                      const std::string& sql, const Deadline& deadline, DatabaseObservation& seen) {
  seen.up = true;
  seen.connect_seconds = SecondsSince(connect_start);
  const auto start = Stopwatch::now();
  const Result<std::string> result = connection.QuerySingleValue(sql, deadline);
  if (!result) {
    seen.query_error = result.error();
    return;
  }
  const double query_seconds = SecondsSince(start);
  seen.users = ParseUserCount(*result);
  if (!seen.users) {
    seen.query_error = "the query returned '" + *result + "', not a count of users";
    return;
  }
  seen.query_seconds = query_seconds;
}

Result<std::string> UsersQueryFromFlags(const FlagValues& flags) {
  return ValidateUsersQuery(flags.Get("database.users-query").value_or(kDefaultUsersQuery));
}

}  // namespace

std::optional<double> ParseUserCount(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text.c_str(), &end);
  // A count is a whole number; "3.0" is how some drivers print a numeric
  // SUM, but 3.5 users is not a count.
  if (end != text.c_str() + text.size() || !std::isfinite(value) || value < 0 ||
      std::floor(value) != value || std::isspace(static_cast<unsigned char>(text.front()))) {
    return std::nullopt;
  }
  return value;
}

DatabaseCollector::DatabaseCollector(const DatabaseTarget& target,
                                     std::shared_ptr<LiveUserCount> live_users)
    : DatabaseCollector([target] { return target; }, std::move(live_users)) {}

DatabaseCollector::DatabaseCollector(TargetSource source, std::shared_ptr<LiveUserCount> live_users,
                                     std::shared_ptr<Observed<bool>> database_up,
                                     std::shared_ptr<ConnectionHandOver> handover)
    : source_(std::move(source)),
      target_(source_()),
      live_users_(std::move(live_users)),
      database_up_(std::move(database_up)),
      handover_(std::move(handover)) {}

CollectorResult DatabaseCollector::Collect(const Deadline& deadline) {
  DatabaseTarget target = source_();
  if (target.url.Redacted() != target_.url.Redacted() ||
      target.sqlite_path != target_.sqlite_path) {
    server_version_.clear();  // another database: its version is not known yet
  }
  target_ = std::move(target);
  DatabaseObservation seen = target_.url.type == DatabaseType::kPostgresql
                                 ? ObservePostgres(deadline)
                                 : ObserveSqlite(deadline);
  // libpq and SQLite quote host names, database names, paths and option
  // values, which with an unencoded '@' are pieces of the password: every
  // message leaves here through the one scrub of the URL's secrets.
  seen.connect_error = target_.url.Scrub(seen.connect_error);
  seen.query_error = target_.url.Scrub(seen.query_error);
  if (live_users_) live_users_->Set(seen.users);
  if (database_up_) database_up_->Set(seen.up);
  return Publish(seen);
}

DatabaseObservation DatabaseCollector::ObservePostgres(const Deadline& deadline) {
  DatabaseObservation seen;
  const auto start = Stopwatch::now();
  auto connection = PostgresConnection::Connect(
      target_.url, deadline, std::max(deadline.Remaining(), std::chrono::milliseconds(1)));
  if (!connection) {
    seen.connect_error = connection.error();
    return seen;
  }
  server_version_ = (*connection)->ServerVersion();
  ObserveConnected(**connection, start, target_.users_query, deadline, seen);
  // A session that answered is idle and healthy: pg_stats goes on with it
  // rather than paying for a second backend (ConnectionHandOver).
  if (seen.users && handover_ && handover_->TakerExpected()) {
    handover_->Give(std::move(*connection), target_.url.Redacted());
  }
  return seen;
}

DatabaseObservation DatabaseCollector::ObserveSqlite(const Deadline& deadline) {
  DatabaseObservation seen;
  const auto start = Stopwatch::now();
  auto connection = SqliteConnection::Open(target_.sqlite_path, deadline);
  if (!connection) {
    seen.connect_error = connection.error();
    return seen;
  }
  server_version_ = SqliteConnection::LibraryVersion();
  ObserveConnected(**connection, start, target_.users_query, deadline, seen);
  return seen;
}

CollectorResult DatabaseCollector::Publish(const DatabaseObservation& seen) const {
  const std::string type = DatabaseTypeName(target_.url.type);
  CollectorResult result;
  result.families.push_back(SingleGauge("caloria_database_up",
                                        "Whether the last connection to the app's database "
                                        "succeeded (1) or not (0).",
                                        seen.up ? 1 : 0));
  result.families.push_back(SingleGauge(
      "caloria_database_info",
      "The app's database: its type and server version (SQLite: library version). Always 1.", 1,
      {{"server_version", server_version_}, {"type", type}}));
  if (seen.connect_seconds) {
    result.families.push_back(SingleGauge("caloria_database_connect_duration_seconds",
                                          "How long the last successful connect took.",
                                          *seen.connect_seconds));
  }
  if (seen.query_seconds) {
    result.families.push_back(SingleGauge("caloria_database_query_duration_seconds",
                                          "How long the last successful users query took.",
                                          *seen.query_seconds));
  }
  if (seen.users) {
    result.families.push_back(SingleGauge("caloria_database_users",
                                          "Users counted by --database.users-query.", *seen.users));
  }

  HealthCheck check;
  check.name = "database";
  check.status = !seen.up      ? HealthStatus::kUnhealthy
                 : !seen.users ? HealthStatus::kDegraded
                               : HealthStatus::kHealthy;
  auto& details = check.details;
  details["database"] = UpperCase(type);
  details["status"] = HealthStatusName(check.status);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["user_count"] = seen.users ? nlohmann::ordered_json(static_cast<long long>(*seen.users))
                                     : nlohmann::ordered_json(nullptr);
  details["server_version"] = server_version_;
  details["connect_duration_seconds"] = OrNull(seen.connect_seconds);
  details["query_duration_seconds"] = OrNull(seen.query_seconds);
  details["url"] = target_.url.Redacted();
  if (target_.url.type == DatabaseType::kSqlite) {
    details["sqlite_path"] = target_.url.IsSqliteMemory() ? ":memory:" : target_.sqlite_path;
  }
  if (!seen.up) {
    details["error"] = seen.connect_error;
    result.error = "cannot connect to the " + type + " database: " + seen.connect_error;
  } else if (!seen.users) {
    details["error"] = "users query failed: " + seen.query_error;
    result.error = "the users query failed: " + seen.query_error;
    result.problems.push_back({"users_query_failed",
                               "the users query failed (" + seen.query_error +
                                   "): fix --database.users-query or the app's schema",
                               HealthStatus::kDegraded});
  }
  result.checks.push_back(std::move(check));
  return result;
}

LogFields DatabaseCollector::Settings() const {
  LogFields fields{{"database_type", DatabaseTypeName(target_.url.type)},
                   {"database_url", target_.url.Redacted()},
                   {"users_query", target_.users_query}};
  if (target_.url.type == DatabaseType::kSqlite) {
    fields.emplace_back("sqlite_file",
                        target_.url.IsSqliteMemory() ? ":memory:" : target_.sqlite_path);
  }
  return fields;
}

CollectorSpec DatabaseCollectorSpec() {
  CollectorSpec spec;
  spec.name = "database";
  // It reads the configuration in force, which the config collector reloads
  // first in each poll when a file behind it changed.
  spec.runs_after = {"config"};
  spec.title = "Database collector";
  spec.help = "Connect to the app's database at every poll and count its users";
  spec.flags = {{"database.users-query", "SQL",
                 "Single read-only SELECT returning the number of users (default \"SELECT "
                 "count(*) FROM users\")."}};
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<std::string> query = UsersQueryFromFlags(flags);
    return query ? Status() : Fail(query.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    const Result<std::string> query = UsersQueryFromFlags(context.config.flags);
    if (!query) return Fail(query.error());
    const ConfigStore& store = context.store;
    DatabaseCollector::TargetSource source = [&store, users_query = *query] {
      const std::shared_ptr<const Config> config = store.Latest();
      return DatabaseTarget{config->database.url, config->database.sqlite_path, users_query};
    };
    return std::unique_ptr<Collector>(std::make_unique<DatabaseCollector>(
        std::move(source), context.shared.live_users, context.shared.database_up,
        context.shared.postgres_handover));
  };
  return spec;
}

}  // namespace caloria
