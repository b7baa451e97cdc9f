#include "collectors/fallback_sqlite_collector.h"

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "collectors/database/database_collector.h"
#include "collectors/database/sqlite_connection.h"
#include "collectors/database/users_query.h"
#include "core/clock.h"

namespace caloria {
namespace {

double MtimeSeconds(const struct stat& info) {
  return static_cast<double>(info.st_mtim.tv_sec) + static_cast<double>(info.st_mtim.tv_nsec) / 1e9;
}

void CountUsers(const std::string& path, const std::string& users_query, const Deadline& deadline,
                FallbackFile& file) {
  // Open() refuses a missing file rather than create it, and opens read-only.
  auto connection = SqliteConnection::Open(path, deadline);
  if (!connection) {
    file.users_error = connection.error();
    return;
  }
  const Result<std::string> value = (*connection)->QuerySingleValue(users_query, deadline);
  if (!value) {
    file.users_error = "the users query failed: " + value.error();
    return;
  }
  file.users = ParseUserCount(*value);
  if (!file.users) file.users_error = "the users query returned '" + *value + "', not a count";
}

Result<FallbackSettings> SettingsFromFlags(const FlagValues& flags) {
  FallbackSettings settings;
  const Result<std::optional<std::string>> path =
      PathFlag(flags, "fallback.sqlite-path",
               "give the SQLite file the app falls back to, e.g. /srv/caloria/instance/caloria.db");
  if (!path) return Fail(path.error());
  settings.path = *path;
  const Result<Duration> window =
      PositiveDurationFlag(flags, "fallback.recent-window", settings.recent_window);
  if (!window) return Fail(window.error());
  settings.recent_window = *window;
  const Result<std::string> query =
      ValidateUsersQuery(flags.Get("database.users-query").value_or(kDefaultUsersQuery));
  if (!query) return Fail(query.error());
  settings.users_query = *query;
  return settings;
}

}  // namespace

FallbackTarget FallbackTargetFor(const DatabaseLocation& location,
                                 const std::optional<std::string>& path_override) {
  FallbackTarget target;
  target.path = path_override ? *path_override : FallbackSqlitePath(location);
  if (location.expected_type == ExpectedType::kPostgresql) {
    target.watch = true;
    target.reason = "PostgreSQL is expected (" + location.expected_type_reason + ")";
  } else if (location.url.type == DatabaseType::kPostgresql) {
    target.watch = true;
    target.reason = "the app's database is PostgreSQL (" + location.origin + ")";
  } else {
    target.reason =
        "the app's database is SQLite and PostgreSQL is not expected: there is no fallback to "
        "watch";
  }
  return target;
}

FallbackFile ObserveFallbackFile(const std::string& path, const std::string& users_query,
                                 const Deadline& deadline) {
  FallbackFile file;
  struct stat info {};
  if (stat(path.c_str(), &info) != 0) {
    if (errno != ENOENT && errno != ENOTDIR) {
      file.error = "cannot look at the fallback SQLite file " + path + " (" + std::strerror(errno) +
                   "): give the exporter's user search permission on its folders";
    }
    return file;
  }
  file.exists = true;
  if (!S_ISREG(info.st_mode)) {
    file.error = "the fallback SQLite path " + path +
                 " is not a regular file: point --fallback.sqlite-path at the file";
    return file;
  }
  file.size_bytes = static_cast<double>(info.st_size);
  file.modified_unix = MtimeSeconds(info);
  // In WAL mode SQLite writes to the -wal file first; the main file changes
  // only at a checkpoint.
  struct stat wal {};
  if (stat((path + "-wal").c_str(), &wal) == 0 && S_ISREG(wal.st_mode)) {
    file.wal = true;
    file.size_bytes += static_cast<double>(wal.st_size);
    file.modified_unix = std::max(file.modified_unix, MtimeSeconds(wal));
  }
  CountUsers(path, users_query, deadline, file);
  return file;
}

FallbackSqliteCollector::FallbackSqliteCollector(FallbackSettings settings, TargetSource source,
                                                 std::shared_ptr<Observed<FallbackView>> published)
    : settings_(std::move(settings)),
      source_(std::move(source)),
      published_(std::move(published)) {}

CollectorResult FallbackSqliteCollector::Collect(const Deadline& deadline) {
  const FallbackTarget target = source_();
  CollectorResult result;
  HealthCheck check;
  check.name = "fallback_sqlite";
  auto& details = check.details;
  details["status"] = HealthStatusName(HealthStatus::kHealthy);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["watching"] = target.watch;
  details["reason"] = target.reason;
  if (!target.watch) {
    previous_path_.clear();
    previous_users_.reset();
    if (published_) published_->Set(std::nullopt);
    result.checks.push_back(std::move(check));
    return result;
  }
  if (target.path != previous_path_) {
    previous_path_ = target.path;
    previous_users_.reset();
  }

  const FallbackFile file = ObserveFallbackFile(target.path, settings_.users_query, deadline);
  const double now = UnixSeconds(std::chrono::system_clock::now());
  const double window = std::chrono::duration<double>(settings_.recent_window).count();
  std::string written_because;
  if (file.exists && !file.error) {
    if (now - file.modified_unix < window) {
      written_because =
          "modified " +
          std::to_string(static_cast<long long>(std::max(0.0, now - file.modified_unix))) +
          "s ago, within --fallback.recent-window=" + FormatDuration(settings_.recent_window);
    } else if (file.users && previous_users_ && *file.users > *previous_users_) {
      written_because =
          "its users grew from " + std::to_string(static_cast<long long>(*previous_users_)) +
          " to " + std::to_string(static_cast<long long>(*file.users)) + " since the previous poll";
    }
  }
  const bool being_written = !written_because.empty();
  if (!file.exists) previous_users_.reset();
  if (file.users) previous_users_ = file.users;
  if (published_) {
    published_->Set(FallbackView{target.path, file.exists, being_written, file.users});
  }

  if (!file.error || file.exists) {
    result.families.push_back(SingleGauge(
        "caloria_fallback_sqlite_exists",
        "Whether the SQLite file the app falls back to without DATABASE_URL exists (1) or not "
        "(0); present while PostgreSQL is expected.",
        file.exists ? 1 : 0, {{"path", target.path}}));
  }
  if (file.exists && !file.error) {
    result.families.push_back(SingleGauge("caloria_fallback_sqlite_size_bytes",
                                          "Size of the fallback SQLite file plus its -wal file.",
                                          file.size_bytes));
    result.families.push_back(SingleGauge(
        "caloria_fallback_sqlite_last_modified_timestamp_seconds",
        "When the fallback SQLite file or its -wal file was last modified.", file.modified_unix));
  }
  if (!file.error) {
    result.families.push_back(
        SingleGauge("caloria_fallback_sqlite_being_written",
                    "1 while the app writes to the fallback SQLite file: modified within "
                    "--fallback.recent-window, or more users than at the previous poll.",
                    being_written ? 1 : 0));
  }
  if (file.users) {
    result.families.push_back(SingleGauge("caloria_fallback_sqlite_users",
                                          "Users in the fallback SQLite file, counted read-only "
                                          "with --database.users-query.",
                                          *file.users));
  }

  HealthStatus status = HealthStatus::kHealthy;
  if (being_written) {
    status = HealthStatus::kUnhealthy;
    result.problems.push_back(
        {"fallback_sqlite_written",
         "the app is writing to " + target.path + " instead of PostgreSQL (" + written_because +
             "): make sure it loads DATABASE_URL (its .env), restart it, then move the users "
             "written there into PostgreSQL",
         HealthStatus::kUnhealthy});
  } else if (file.error) {
    status = HealthStatus::kDegraded;
    result.error = *file.error;
  }
  check.status = status;
  details["status"] = HealthStatusName(status);
  details["path"] = target.path;
  details["exists"] = file.error && !file.exists ? nlohmann::ordered_json(nullptr)
                                                 : nlohmann::ordered_json(file.exists);
  if (file.exists && !file.error) {
    details["size_bytes"] = static_cast<long long>(file.size_bytes);
    details["last_modified"] = FormatIsoMicros(FromUnixSeconds(file.modified_unix));
    details["modified_seconds_ago"] =
        static_cast<long long>(std::max(0.0, now - file.modified_unix));
    details["wal"] = file.wal;
    details["users"] = file.users ? nlohmann::ordered_json(static_cast<long long>(*file.users))
                                  : nlohmann::ordered_json(nullptr);
    if (!file.users) details["users_error"] = file.users_error;
  }
  details["being_written"] = being_written;
  if (being_written) details["being_written_because"] = written_because;
  details["recent_window"] = FormatDuration(settings_.recent_window);
  if (file.error) details["error"] = *file.error;
  if (!result.problems.empty()) {
    details["problems"] = nlohmann::ordered_json::array({result.problems.front().message});
  }
  result.checks.push_back(std::move(check));
  return result;
}

LogFields FallbackSqliteCollector::Settings() const {
  return {{"fallback_sqlite_path", settings_.path.value_or("sqlite:///caloria.db in the app's "
                                                           "folder")},
          {"fallback_recent_window", FormatDuration(settings_.recent_window)}};
}

CollectorSpec FallbackSqliteCollectorSpec() {
  CollectorSpec spec;
  spec.name = "fallback_sqlite";
  // It reads the configuration in force, which the config collector reloads
  // first in each poll when a file behind it changed.
  spec.runs_after = {"config"};
  spec.title = "Fallback SQLite collector";
  spec.help =
      "While PostgreSQL is expected, watch the SQLite file the app falls back to without "
      "DATABASE_URL: exists, size, last write, users";
  spec.flags = {
      {"fallback.sqlite-path", "PATH",
       "The SQLite file the app falls back to (default sqlite:///caloria.db resolved as the app "
       "does: APP/instance/caloria.db, or APP/caloria.db with "
       "--database.sqlite-relative-to=app)."},
      {"fallback.recent-window", "DURATION",
       "A fallback file modified within this window is being written (default 1h)."},
  };
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<FallbackSettings> settings = SettingsFromFlags(flags);
    return settings ? Status() : Fail(settings.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    Result<FallbackSettings> settings = SettingsFromFlags(context.config.flags);
    if (!settings) return Fail(settings.error());
    const ConfigStore& store = context.store;
    FallbackSqliteCollector::TargetSource source = [&store, path = settings->path] {
      return FallbackTargetFor(store.Latest()->database, path);
    };
    return std::unique_ptr<Collector>(std::make_unique<FallbackSqliteCollector>(
        std::move(*settings), std::move(source), context.shared.fallback));
  };
  return spec;
}

}  // namespace caloria
