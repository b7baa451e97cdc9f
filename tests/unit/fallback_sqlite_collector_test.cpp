#include "collectors/fallback_sqlite_collector.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>

#include <chrono>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/config_collector.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;
using std::chrono::milliseconds;
using std::chrono::seconds;
namespace fs = std::filesystem;

Deadline Generous() { return Deadline::After(seconds(10)); }

// A read-write handle for the test to play the app with.
class AppConnection {
 public:
  explicit AppConnection(const std::string& path) {
    EXPECT_EQ(
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
        SQLITE_OK);
  }
  ~AppConnection() { sqlite3_close_v2(db_); }
  AppConnection(const AppConnection&) = delete;
  AppConnection& operator=(const AppConnection&) = delete;

  void Exec(const std::string& sql) {
    char* message = nullptr;
    EXPECT_EQ(sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
        << sql << ": " << (message ? message : "");
    sqlite3_free(message);
  }
  void AddUsers(int count) {
    for (int i = 0; i < count; ++i) Exec("INSERT INTO users (email) VALUES ('u@example.com')");
  }

 private:
  sqlite3* db_ = nullptr;
};

void MakeUsersDatabase(const std::string& path, int users, bool wal = false) {
  AppConnection db(path);
  if (wal) db.Exec("PRAGMA journal_mode=WAL");
  db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)");
  db.AddUsers(users);
}

void SetMtime(const std::string& path, std::time_t mtime) {
  const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

std::time_t HoursAgo(int hours) { return std::time(nullptr) - hours * 3600; }

// A database of `users` users that nobody has written to for three hours.
std::string OldUsersDatabase(const TempDir& dir, int users, bool wal = false) {
  const std::string path = dir.File("caloria.db");
  MakeUsersDatabase(path, users, wal);
  SetMtime(path, HoursAgo(3));
  return path;
}

struct Polled {
  CollectorResult result;
  std::optional<FallbackView> view;
};

// One collector kept across polls, as the poller keeps it.
class Watcher {
 public:
  explicit Watcher(FallbackTarget target, Duration window = std::chrono::hours(1))
      : target_(std::move(target)) {
    FallbackSettings settings;
    settings.recent_window = window;
    settings.users_query = "SELECT count(*) FROM users";
    published_->Set(FallbackView{"stale", true, true, 99});
    collector_ = std::make_unique<FallbackSqliteCollector>(
        settings, [this] { return target_; }, published_);
  }

  Polled Poll(Deadline deadline = Generous()) {
    Polled run;
    run.result = collector_->Collect(deadline);
    run.view = published_->Get();
    return run;
  }
  FallbackTarget& target() { return target_; }

 private:
  FallbackTarget target_;
  std::shared_ptr<Observed<FallbackView>> published_ = std::make_shared<Observed<FallbackView>>();
  std::unique_ptr<FallbackSqliteCollector> collector_;
};

FallbackTarget Watching(const std::string& path) {
  return {true, path, "PostgreSQL is expected (FLASK_ENV=production)"};
}

std::optional<double> Gauge(const CollectorResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name && family.metric.size() == 1) return family.metric[0].gauge.value;
  }
  return std::nullopt;
}

bool HasProblem(const CollectorResult& result, const std::string& check) {
  for (const auto& problem : result.problems) {
    if (problem.check == check) return true;
  }
  return false;
}

const HealthCheck& Check(const CollectorResult& result) {
  static const HealthCheck kNone;
  for (const auto& check : result.checks) {
    if (check.name == "fallback_sqlite") return check;
  }
  ADD_FAILURE() << "no fallback_sqlite check";
  return kNone;
}

// ---- which file, and whether to watch it ---------------------------------------------

DatabaseLocation Location(const std::string& url, ExpectedType expected) {
  DatabaseLocation location;
  location.app_dir = "/srv/caloria";
  location.url = *ParseSqlalchemyUrl(url);
  location.expected_type = expected;
  location.expected_type_reason = "FLASK_ENV=production";
  location.origin = "DATABASE_URL in the env file /srv/caloria/.env";
  return location;
}

TEST(FallbackTargetFor, WatchesTheAppsDefaultSqliteFileWhilePostgresqlIsExpected) {
  DatabaseLocation location = Location("sqlite:///caloria.db", ExpectedType::kPostgresql);
  FallbackTarget target = FallbackTargetFor(location, std::nullopt);
  EXPECT_TRUE(target.watch);
  EXPECT_EQ(target.path, "/srv/caloria/instance/caloria.db");
  EXPECT_NE(target.reason.find("FLASK_ENV=production"), std::string::npos) << target.reason;

  location.sqlite_relative_to = SqliteRelativeTo::kApp;
  EXPECT_EQ(FallbackTargetFor(location, std::nullopt).path, "/srv/caloria/caloria.db");
  EXPECT_EQ(FallbackTargetFor(location, "/data/other.db").path, "/data/other.db");
}

TEST(FallbackTargetFor, WatchesWhenTheConfiguredDatabaseIsPostgresql) {
  const FallbackTarget target =
      FallbackTargetFor(Location("postgresql://u:p@db/caloria", ExpectedType::kAny), std::nullopt);
  EXPECT_TRUE(target.watch);
  EXPECT_EQ(target.path, "/srv/caloria/instance/caloria.db");
  EXPECT_NE(target.reason.find("PostgreSQL"), std::string::npos);
}

TEST(FallbackTargetFor, AnAppOnSqliteWithoutPostgresqlExpectedHasNoFallback) {
  const FallbackTarget target =
      FallbackTargetFor(Location("sqlite:///caloria.db", ExpectedType::kAny), std::nullopt);
  EXPECT_FALSE(target.watch);
  EXPECT_NE(target.reason.find("no fallback to watch"), std::string::npos);
}

// ---- the collector ----------------------------------------------------------------------

TEST(FallbackSqliteCollector, NotWatchingPublishesNoMetricsAndNoView) {
  Watcher watcher({false, "/srv/caloria/instance/caloria.db", "no fallback to watch"});
  const Polled run = watcher.Poll();
  EXPECT_TRUE(run.result.families.empty());
  EXPECT_TRUE(run.result.problems.empty());
  EXPECT_FALSE(run.result.error.has_value());
  EXPECT_FALSE(run.view.has_value());
  const HealthCheck& check = Check(run.result);
  EXPECT_EQ(check.status, HealthStatus::kHealthy);
  EXPECT_EQ(check.details["watching"], false);
}

TEST(FallbackSqliteCollector, AMissingFileIsHealthyAndNeverCreated) {
  TempDir dir;
  const std::string path = dir.File("instance/caloria.db");
  Watcher watcher(Watching(path));
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_exists"), 0.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 0.0);
  EXPECT_FALSE(Gauge(run.result, "caloria_fallback_sqlite_size_bytes"));
  EXPECT_FALSE(Gauge(run.result, "caloria_fallback_sqlite_users"));
  EXPECT_TRUE(run.result.problems.empty());
  EXPECT_FALSE(run.result.error.has_value());
  ASSERT_TRUE(run.view.has_value());
  EXPECT_EQ(run.view->path, path);
  EXPECT_FALSE(run.view->exists);
  EXPECT_FALSE(run.view->being_written);
  EXPECT_FALSE(run.view->users.has_value());
  EXPECT_EQ(Check(run.result).status, HealthStatus::kHealthy);
  EXPECT_EQ(Check(run.result).details["exists"], false);
  EXPECT_FALSE(fs::exists(dir.File("instance")));

  // The folder exists, the file does not: still nothing is created.
  fs::create_directories(dir.File("instance"));
  watcher.Poll();
  EXPECT_TRUE(fs::is_empty(dir.File("instance")));
}

TEST(FallbackSqliteCollector, AFileThatAppearsAndIsWrittenIsTheIncidentInProgress) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  Watcher watcher(Watching(path));
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_exists"), 0.0);

  MakeUsersDatabase(path, 3);
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_exists"), 1.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_users"), 3.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 1.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_size_bytes"),
            static_cast<double>(fs::file_size(path)));
  const auto modified =
      Gauge(run.result, "caloria_fallback_sqlite_last_modified_timestamp_seconds");
  ASSERT_TRUE(modified);
  EXPECT_NEAR(*modified, static_cast<double>(std::time(nullptr)), 5);

  ASSERT_TRUE(HasProblem(run.result, "fallback_sqlite_written"));
  const Problem& problem = run.result.problems.front();
  EXPECT_EQ(problem.severity, HealthStatus::kUnhealthy);
  EXPECT_NE(problem.message.find("the app is writing to " + path + " instead of PostgreSQL"),
            std::string::npos)
      << problem.message;
  EXPECT_NE(problem.message.find("make sure it loads DATABASE_URL"), std::string::npos);
  EXPECT_NE(problem.message.find("move the users written there into PostgreSQL"),
            std::string::npos);
  EXPECT_FALSE(run.result.error.has_value());  // a finding, not a collector failure

  ASSERT_TRUE(run.view.has_value());
  EXPECT_TRUE(run.view->exists);
  EXPECT_TRUE(run.view->being_written);
  EXPECT_EQ(run.view->users, 3.0);

  const HealthCheck& check = Check(run.result);
  EXPECT_EQ(check.status, HealthStatus::kUnhealthy);
  EXPECT_EQ(check.details["users"], 3);
  EXPECT_EQ(check.details["being_written"], true);
  EXPECT_EQ(check.details["recent_window"], "1h");
  EXPECT_EQ(check.details["path"], path);
}

TEST(FallbackSqliteCollector, AnOldFileThatDoesNotChangeIsNotBeingWritten) {
  TempDir dir;
  const std::string path = OldUsersDatabase(dir, 2);
  Watcher watcher(Watching(path));
  for (int poll = 0; poll < 2; ++poll) {
    const Polled run = watcher.Poll();
    EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 0.0);
    EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_users"), 2.0);
    EXPECT_TRUE(run.result.problems.empty());
    EXPECT_EQ(Check(run.result).status, HealthStatus::kHealthy);
    EXPECT_FALSE(run.view->being_written);
  }
}

TEST(FallbackSqliteCollector, GainingUsersSinceThePreviousPollIsBeingWritten) {
  TempDir dir;
  const std::string path = OldUsersDatabase(dir, 2);
  Watcher watcher(Watching(path));
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_being_written"), 0.0);
  {
    AppConnection app(path);
    app.AddUsers(1);
  }
  SetMtime(path, HoursAgo(3));  // only the users tell
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_users"), 3.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 1.0);
  EXPECT_TRUE(HasProblem(run.result, "fallback_sqlite_written"));
  EXPECT_NE(run.result.problems.front().message.find("grew from 2 to 3"), std::string::npos)
      << run.result.problems.front().message;
  // The next poll sees no new users.
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_being_written"), 0.0);
}

TEST(FallbackSqliteCollector, AGrowingFileReportsItsSize) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  MakeUsersDatabase(path, 1);
  Watcher watcher(Watching(path));
  const double before = *Gauge(watcher.Poll().result, "caloria_fallback_sqlite_size_bytes");
  {
    AppConnection app(path);
    app.Exec("CREATE TABLE food (id INTEGER PRIMARY KEY, name TEXT)");
    for (int i = 0; i < 50; ++i) {
      app.Exec("INSERT INTO food (name) VALUES ('" + std::string(200, 'x') + "')");
    }
  }
  const double after = *Gauge(watcher.Poll().result, "caloria_fallback_sqlite_size_bytes");
  EXPECT_GT(after, before);
  EXPECT_EQ(after, static_cast<double>(fs::file_size(path)));
}

TEST(FallbackSqliteCollector, InWalModeTheWalFileCountsForSizeTimeAndUsers) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  MakeUsersDatabase(path, 1, /*wal=*/true);
  AppConnection app(path);  // stays open: the -wal and -shm files stay
  app.Exec("PRAGMA wal_autocheckpoint=0");
  app.AddUsers(4);
  ASSERT_TRUE(fs::exists(path + "-wal"));
  SetMtime(path, HoursAgo(5));  // the main file has not changed since the checkpoint
  Watcher watcher(Watching(path));
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_users"), 5.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_size_bytes"),
            static_cast<double>(fs::file_size(path) + fs::file_size(path + "-wal")));
  EXPECT_NEAR(*Gauge(run.result, "caloria_fallback_sqlite_last_modified_timestamp_seconds"),
              static_cast<double>(std::time(nullptr)), 5);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 1.0);
  EXPECT_EQ(Check(run.result).details["wal"], true);
}

TEST(FallbackSqliteCollector, AWalModeFileNobodyHasOpenGetsNoSideFilesFromTheExporter) {
  TempDir dir;
  const std::string path = OldUsersDatabase(dir, 2, /*wal=*/true);  // closed: no -wal, -shm
  ASSERT_FALSE(fs::exists(path + "-wal"));
  Watcher watcher(Watching(path));
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_users"), 2.0);
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_being_written"), 0.0);
  EXPECT_FALSE(fs::exists(path + "-wal"));
  EXPECT_FALSE(fs::exists(path + "-shm"));
  // A second poll would otherwise see the exporter's own -wal as a fresh write.
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_being_written"), 0.0);
}

TEST(FallbackSqliteCollector, AWalModeFileNobodyHasOpenIsReadWhateverItsPathHolds) {
  TempDir dir;
  fs::create_directories(dir.File("odd %41 ?x=1 #frag"));
  const std::string path = dir.File("odd %41 ?x=1 #frag/caloria.db");
  MakeUsersDatabase(path, 4, /*wal=*/true);
  Watcher watcher(Watching(path));
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_users"), 4.0);
  EXPECT_FALSE(fs::exists(path + "-wal"));
}

TEST(FallbackSqliteCollector, AFileLockedByAWriterReturnsWithinTheDeadline) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  MakeUsersDatabase(path, 2);
  AppConnection writer(path);
  writer.Exec("BEGIN EXCLUSIVE");
  writer.Exec("INSERT INTO users (email) VALUES ('writing@example.com')");
  Watcher watcher(Watching(path));
  const auto start = std::chrono::steady_clock::now();
  const Polled run = watcher.Poll(Deadline::After(milliseconds(300)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_exists"), 1.0);
  EXPECT_FALSE(Gauge(run.result, "caloria_fallback_sqlite_users"));
  EXPECT_FALSE(run.result.error.has_value());
  const HealthCheck& check = Check(run.result);
  EXPECT_TRUE(check.details["users"].is_null());
  EXPECT_FALSE(check.details["users_error"].get<std::string>().empty());
  writer.Exec("COMMIT");
  // The lock is gone with the writer's transaction; the exporter kept none.
  EXPECT_EQ(Gauge(watcher.Poll().result, "caloria_fallback_sqlite_users"), 3.0);
}

TEST(FallbackSqliteCollector, AFileThatIsNoDatabaseHasNoUsersAndIsNoFailure) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  std::ofstream(path) << "not a database, just some text that is long enough to matter\n";
  SetMtime(path, HoursAgo(3));
  Watcher watcher(Watching(path));
  const Polled run = watcher.Poll();
  EXPECT_EQ(Gauge(run.result, "caloria_fallback_sqlite_exists"), 1.0);
  EXPECT_FALSE(Gauge(run.result, "caloria_fallback_sqlite_users"));
  EXPECT_FALSE(run.result.error.has_value());
  EXPECT_FALSE(Check(run.result).details["users_error"].get<std::string>().empty());
}

TEST(FallbackSqliteCollector, APathThatIsNoFileIsACollectorError) {
  TempDir dir;
  fs::create_directories(dir.File("caloria.db"));
  Watcher watcher(Watching(dir.File("caloria.db")));
  const Polled run = watcher.Poll();
  ASSERT_TRUE(run.result.error.has_value());
  EXPECT_NE(run.result.error->find("--fallback.sqlite-path"), std::string::npos);
  EXPECT_EQ(Check(run.result).status, HealthStatus::kDegraded);
  EXPECT_FALSE(Gauge(run.result, "caloria_fallback_sqlite_being_written"));
}

TEST(FallbackSqliteCollector, AReloadThatStopsPostgresqlBeingExpectedStopsTheWatch) {
  TempDir dir;
  const std::string path = dir.File("caloria.db");
  MakeUsersDatabase(path, 2);
  Watcher watcher(Watching(path));
  EXPECT_TRUE(watcher.Poll().view.has_value());
  watcher.target().watch = false;
  const Polled run = watcher.Poll();
  EXPECT_FALSE(run.view.has_value());
  EXPECT_TRUE(run.result.families.empty());
}

// ---- the spec ------------------------------------------------------------------------------

// With the config collector it runs after, switched off so that only the
// collector under test is built.
Result<CollectorList> Build(std::vector<std::string> args) {
  args.push_back("--no-collector.config");
  return ::caloria::testing::BuildCollectors(
      CollectorRegistry({ConfigCollectorSpec(), FallbackSqliteCollectorSpec()}), args);
}

TEST(FallbackSqliteCollectorSpec, IsOnByDefaultAndCanBeSwitchedOff) {
  const auto built = Build({});
  ASSERT_TRUE(built.ok()) << built.error();
  ASSERT_EQ(built->size(), 1u);
  EXPECT_EQ(built->front()->Name(), "fallback_sqlite");
  EXPECT_TRUE(Build({"--no-collector.fallback_sqlite"})->empty());
}

TEST(FallbackSqliteCollectorSpec, BadFlagsAreUsageErrors) {
  for (const char* flag : {"--fallback.recent-window=soon", "--fallback.recent-window=0s",
                           "--fallback.sqlite-path="}) {
    const auto built = Build({flag});
    ASSERT_FALSE(built.ok()) << flag;
    EXPECT_NE(built.error().find("--fallback."), std::string::npos) << built.error();
  }
  EXPECT_TRUE(Build({"--fallback.recent-window=15m", "--fallback.sqlite-path=x.db"}).ok());
}

}  // namespace
}  // namespace caloria
