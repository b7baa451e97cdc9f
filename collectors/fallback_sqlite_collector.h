#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/database_location.h"
#include "core/duration.h"

namespace caloria {

// The file to watch, from the configuration in force.
struct FallbackTarget {
  bool watch = false;  // PostgreSQL is expected, or is the configured database
  std::string path;    // absolute
  std::string reason;  // why it is watched, or why not
};

// Watching is due when --database.expected-type is postgresql (or FLASK_ENV
// / APP_ENV is production) or the configured URL is PostgreSQL: the app then
// has a SQLite file to fall back to, sqlite:///caloria.db resolved as the app
// resolves it (Flask-SQLAlchemy's instance/ folder, or the app's folder), or
// `path_override` (--fallback.sqlite-path).
FallbackTarget FallbackTargetFor(const DatabaseLocation& location,
                                 const std::optional<std::string>& path_override);

struct FallbackSettings {
  std::optional<std::string> path;  // --fallback.sqlite-path, made absolute
  Duration recent_window = std::chrono::hours(1);
  std::string users_query;  // --database.users-query
};

// What one look at the fallback file found.
struct FallbackFile {
  bool exists = false;
  std::optional<std::string> error;  // it could not be looked at (permissions)
  double size_bytes = 0;             // the file and its -wal file
  double modified_unix = 0;          // the later mtime of the two
  bool wal = false;                  // a -wal file sits beside it
  std::optional<double> users;
  std::string users_error;
};

// Looks at `path` and its -wal file, and counts the users in it read-only
// under the deadline (never creating it, never holding a lock past the one
// query).
FallbackFile ObserveFallbackFile(const std::string& path, const std::string& users_query,
                                 const Deadline& deadline);

// Watches the SQLite file the app falls back to without DATABASE_URL while
// PostgreSQL is expected: the file appearing, growing, gaining users. Being
// written to (modified within --fallback.recent-window, or more users than at
// the previous poll) is the incident this exporter exists for, happening now.
class FallbackSqliteCollector : public Collector {
 public:
  // Asked at every run: a reload may change the app's folder or expected type.
  using TargetSource = std::function<FallbackTarget()>;

  // `published` (may be null) receives each run's FallbackView.
  FallbackSqliteCollector(FallbackSettings settings, TargetSource source,
                          std::shared_ptr<Observed<FallbackView>> published);

  std::string Name() const override { return "fallback_sqlite"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  FallbackSettings settings_;
  TargetSource source_;
  std::shared_ptr<Observed<FallbackView>> published_;
  // The users counted at the last poll that could count them, in this path.
  std::string previous_path_;
  std::optional<double> previous_users_;
};

// --[no-]collector.fallback_sqlite, --fallback.sqlite-path and
// --fallback.recent-window.
CollectorSpec FallbackSqliteCollectorSpec();

}  // namespace caloria
