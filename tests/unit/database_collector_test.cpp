#include "collectors/database/database_collector.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sqlite3.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Stopwatch = std::chrono::steady_clock;

// Collect() must come back within its deadline plus scheduling slack; this is
// behaviour (the poller keeps its interval), not a benchmark.
constexpr milliseconds kShortDeadline{300};
constexpr milliseconds kReturnBound{2000};

constexpr const char* kUsersQuery = "SELECT count(*) FROM users";

// An open read-write SQLite handle for setting up (and locking) test files.
class SqliteHandle {
 public:
  explicit SqliteHandle(const std::string& path) {
    const int rc =
        sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr);
    EXPECT_EQ(rc, SQLITE_OK) << "cannot create " << path;
  }
  ~SqliteHandle() { sqlite3_close_v2(db_); }
  SqliteHandle(const SqliteHandle&) = delete;
  SqliteHandle& operator=(const SqliteHandle&) = delete;

  void Exec(const std::string& sql) {
    char* message = nullptr;
    const int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message);
    EXPECT_EQ(rc, SQLITE_OK) << sql << ": " << (message ? message : "");
    sqlite3_free(message);
  }

 private:
  sqlite3* db_ = nullptr;
};

// Creates a SQLite file with a users table holding `users` rows.
std::string MakeUsersDatabase(const TempDir& dir, int users, const std::string& name = "app.db") {
  const std::string path = dir.File(name);
  SqliteHandle db(path);
  db.Exec("CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL)");
  for (int i = 0; i < users; ++i) {
    db.Exec("INSERT INTO users (email) VALUES ('user" + std::to_string(i) + "@example.com')");
  }
  return path;
}

DatabaseTarget SqliteTarget(const std::string& path, const std::string& query = kUsersQuery) {
  DatabaseTarget target;
  target.url = *ParseSqlalchemyUrl("sqlite:///" + path);
  target.sqlite_path = path;
  target.users_query = query;
  return target;
}

DatabaseTarget PostgresTarget(int port, const std::string& password) {
  DatabaseTarget target;
  target.url = *ParseSqlalchemyUrl("postgresql://caloria:" + password +
                                   "@127.0.0.1:" + std::to_string(port) + "/caloria");
  target.users_query = kUsersQuery;
  return target;
}

const prometheus::MetricFamily* FindFamily(const CollectorResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

// The value of a single-series gauge family, or nullopt when it is absent.
std::optional<double> GaugeValue(const CollectorResult& result, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(result, name);
  if (!family) return std::nullopt;
  EXPECT_EQ(family->metric.size(), 1u) << name;
  if (family->metric.empty()) return std::nullopt;
  return family->metric.front().gauge.value;
}

std::optional<std::string> Label(const prometheus::ClientMetric& metric, const std::string& name) {
  for (const auto& label : metric.label) {
    if (label.name == name) return label.value;
  }
  return std::nullopt;
}

const HealthCheck* DatabaseCheck(const CollectorResult& result) {
  for (const HealthCheck& check : result.checks) {
    if (check.name == "database") return &check;
  }
  return nullptr;
}

bool HasProblem(const CollectorResult& result, const std::string& check) {
  for (const Problem& problem : result.problems) {
    if (problem.check == check) return true;
  }
  return false;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

struct TimedResult {
  CollectorResult result;
  milliseconds took;
};

TimedResult CollectWithin(DatabaseCollector& collector, milliseconds budget) {
  const auto start = Stopwatch::now();
  CollectorResult result = collector.Collect(Deadline::After(budget));
  return {std::move(result), std::chrono::duration_cast<milliseconds>(Stopwatch::now() - start)};
}

CollectorResult Collect(const DatabaseTarget& target, milliseconds budget = milliseconds(5000)) {
  DatabaseCollector collector(target);
  return collector.Collect(Deadline::After(budget));
}

// A TCP socket on 127.0.0.1 with a kernel-chosen port.
class LocalSocket {
 public:
  LocalSocket() {
    fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
    EXPECT_GE(fd_, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    address.sin_port = 0;
    EXPECT_EQ(::bind(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
    socklen_t length = sizeof address;
    EXPECT_EQ(::getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length), 0);
    port_ = ntohs(address.sin_port);
  }
  ~LocalSocket() { Close(); }
  LocalSocket(const LocalSocket&) = delete;
  LocalSocket& operator=(const LocalSocket&) = delete;

  int port() const { return port_; }
  // Completes TCP handshakes in the kernel; nobody ever accepts or answers.
  void Listen() { EXPECT_EQ(::listen(fd_, 16), 0); }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }

 private:
  int fd_ = -1;
  int port_ = 0;
};

// ----------------------------------------------------------------- SQLite --

TEST(DatabaseCollector, SqliteWithThreeUsersIsUpAndCountsThem) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  const CollectorResult result = Collect(SqliteTarget(path));

  EXPECT_FALSE(result.error.has_value()) << *result.error;
  EXPECT_TRUE(result.problems.empty());
  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
  EXPECT_EQ(GaugeValue(result, "caloria_database_users"), 3.0);
  EXPECT_TRUE(FindFamily(result, "caloria_database_connect_duration_seconds"));
  EXPECT_TRUE(FindFamily(result, "caloria_database_query_duration_seconds"));

  const prometheus::MetricFamily* info = FindFamily(result, "caloria_database_info");
  ASSERT_NE(info, nullptr);
  ASSERT_EQ(info->metric.size(), 1u);
  EXPECT_EQ(info->metric.front().gauge.value, 1.0);
  EXPECT_EQ(Label(info->metric.front(), "type"), "sqlite");
  EXPECT_EQ(Label(info->metric.front(), "server_version"), std::string(sqlite3_libversion()));
}

TEST(DatabaseCollector, SqliteHealthCheckDescribesTheDatabase) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  const CollectorResult result = Collect(SqliteTarget(path));

  const HealthCheck* check = DatabaseCheck(result);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kHealthy);
  EXPECT_EQ(check->details.value("database", ""), "SQLITE");
  EXPECT_EQ(check->details.value("status", ""), "healthy");
  ASSERT_TRUE(check->details.contains("user_count"));
  EXPECT_EQ(check->details["user_count"], 3);
  EXPECT_EQ(check->details.value("sqlite_path", ""), path);
  EXPECT_FALSE(check->details.contains("error"));
}

TEST(DatabaseCollector, SqliteWithNoUsersCountsZero) {
  TempDir dir;
  const CollectorResult result = Collect(SqliteTarget(MakeUsersDatabase(dir, 0)));
  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
  EXPECT_EQ(GaugeValue(result, "caloria_database_users"), 0.0);
  ASSERT_NE(DatabaseCheck(result), nullptr);
  EXPECT_EQ(DatabaseCheck(result)->status, HealthStatus::kHealthy);
}

TEST(DatabaseCollector, SqliteCountFollowsTheDatabaseBetweenRuns) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  DatabaseCollector collector(SqliteTarget(path));
  EXPECT_EQ(
      GaugeValue(collector.Collect(Deadline::After(milliseconds(5000))), "caloria_database_users"),
      3.0);
  SqliteHandle(path).Exec("INSERT INTO users (email) VALUES ('late@example.com')");
  EXPECT_EQ(
      GaugeValue(collector.Collect(Deadline::After(milliseconds(5000))), "caloria_database_users"),
      4.0);
}

TEST(DatabaseCollector, LiveUserCountFollowsEachRun) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  auto live_users = std::make_shared<LiveUserCount>();
  DatabaseCollector counting(SqliteTarget(path), live_users);
  counting.Collect(Deadline::After(milliseconds(5000)));
  EXPECT_EQ(live_users->Get(), 3.0);
  fs::remove(path);
  counting.Collect(Deadline::After(milliseconds(5000)));
  EXPECT_EQ(live_users->Get(), std::nullopt);
}

TEST(DatabaseCollector, MissingSqliteFileIsDownAndNamesThePath) {
  TempDir dir;
  const std::string path = dir.File("missing.db");
  const CollectorResult result = Collect(SqliteTarget(path));

  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 0.0);
  EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
  EXPECT_FALSE(FindFamily(result, "caloria_database_connect_duration_seconds"));
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, path)) << *result.error;

  const HealthCheck* check = DatabaseCheck(result);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kUnhealthy);
  EXPECT_EQ(check->details.value("status", ""), "unhealthy");
  EXPECT_TRUE(check->details["user_count"].is_null());
  EXPECT_TRUE(Contains(check->details.value("error", ""), path)) << check->details.dump();
  // The exporter watches the app's file; it must never create one.
  EXPECT_FALSE(fs::exists(path));
}

TEST(DatabaseCollector, FileThatIsNotADatabaseIsDown) {
  TempDir dir;
  const std::string path = dir.File("garbage.db");
  {
    std::ofstream out(path, std::ios::binary);
    for (int i = 0; i < 256; ++i) out << "this is not an SQLite database \x01\x02\x03\xff";
  }
  const CollectorResult result = Collect(SqliteTarget(path));
  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 0.0);
  EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
  ASSERT_TRUE(result.error.has_value());
  ASSERT_NE(DatabaseCheck(result), nullptr);
  EXPECT_EQ(DatabaseCheck(result)->status, HealthStatus::kUnhealthy);
}

TEST(DatabaseCollector, MissingUsersTableIsUpButDegraded) {
  TempDir dir;
  const std::string path = dir.File("no-users.db");
  SqliteHandle(path).Exec("CREATE TABLE meals (id INTEGER PRIMARY KEY)");
  const CollectorResult result = Collect(SqliteTarget(path));

  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
  EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
  EXPECT_FALSE(FindFamily(result, "caloria_database_query_duration_seconds"));
  EXPECT_TRUE(HasProblem(result, "users_query_failed"));
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, "users")) << *result.error;

  const HealthCheck* check = DatabaseCheck(result);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kDegraded);
  EXPECT_TRUE(check->details["user_count"].is_null());
  EXPECT_TRUE(check->details.contains("error"));
}

TEST(DatabaseCollector, QueryReturningTextFails) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  const CollectorResult result = Collect(SqliteTarget(path, "SELECT 'many' FROM users LIMIT 1"));

  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
  EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
  EXPECT_TRUE(HasProblem(result, "users_query_failed"));
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, "many")) << *result.error;
  ASSERT_NE(DatabaseCheck(result), nullptr);
  EXPECT_EQ(DatabaseCheck(result)->status, HealthStatus::kDegraded);
}

TEST(DatabaseCollector, QueryReturningNoRowOrNullFails) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  for (const std::string query :
       {"SELECT id FROM users WHERE id < 0", "SELECT NULL", "SELECT id FROM users",
        "SELECT count(*), 1 FROM users", "SELECT -3"}) {
    SCOPED_TRACE(query);
    const CollectorResult result = Collect(SqliteTarget(path, query));
    EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
    EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
    EXPECT_TRUE(HasProblem(result, "users_query_failed"));
    EXPECT_TRUE(result.error.has_value());
  }
}

TEST(DatabaseCollector, SqliteIsOpenedReadOnly) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  // A users query that writes is refused by the read-only handle.
  const CollectorResult result =
      Collect(SqliteTarget(path, "INSERT INTO users (email) VALUES ('x') RETURNING 1"));
  EXPECT_FALSE(FindFamily(result, "caloria_database_users"));
  const CollectorResult after = Collect(SqliteTarget(path));
  EXPECT_EQ(GaugeValue(after, "caloria_database_users"), 3.0);
}

TEST(DatabaseCollector, InMemorySqliteIsUp) {
  DatabaseTarget target;
  target.url = *ParseSqlalchemyUrl("sqlite://");
  target.users_query = "SELECT 7";
  const CollectorResult result = Collect(target);
  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 1.0);
  EXPECT_EQ(GaugeValue(result, "caloria_database_users"), 7.0);
  ASSERT_NE(DatabaseCheck(result), nullptr);
  EXPECT_EQ(DatabaseCheck(result)->details.value("sqlite_path", ""), ":memory:");
}

TEST(DatabaseCollector, ExclusivelyLockedSqliteGivesUpAtTheDeadline) {
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 3);
  SqliteHandle writer(path);
  writer.Exec("BEGIN EXCLUSIVE");
  writer.Exec("INSERT INTO users (email) VALUES ('writer@example.com')");

  DatabaseCollector collector(SqliteTarget(path));
  const TimedResult run = CollectWithin(collector, kShortDeadline);

  EXPECT_LT(run.took, kReturnBound);
  EXPECT_EQ(GaugeValue(run.result, "caloria_database_up"), 0.0);
  EXPECT_FALSE(FindFamily(run.result, "caloria_database_users"));
  EXPECT_TRUE(run.result.error.has_value());
  ASSERT_NE(DatabaseCheck(run.result), nullptr);
  EXPECT_EQ(DatabaseCheck(run.result)->status, HealthStatus::kUnhealthy);

  // Once the writer is done, the next run sees the database again.
  writer.Exec("ROLLBACK");
  const CollectorResult later = collector.Collect(Deadline::After(milliseconds(5000)));
  EXPECT_EQ(GaugeValue(later, "caloria_database_up"), 1.0);
  EXPECT_EQ(GaugeValue(later, "caloria_database_users"), 3.0);
}

// ------------------------------------------------------------- PostgreSQL --

constexpr const char* kDistinctPassword = "Pw-DoNotLeak-7f3c91";

void ExpectNoPassword(const CollectorResult& result) {
  if (result.error) {
    EXPECT_FALSE(Contains(*result.error, kDistinctPassword)) << *result.error;
  }
  for (const HealthCheck& check : result.checks) {
    EXPECT_FALSE(Contains(check.details.dump(), kDistinctPassword)) << check.details.dump();
  }
  for (const Problem& problem : result.problems) {
    EXPECT_FALSE(Contains(problem.message, kDistinctPassword)) << problem.message;
  }
  for (const auto& family : result.families) {
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) {
        EXPECT_FALSE(Contains(label.value, kDistinctPassword)) << family.name;
      }
    }
  }
}

TEST(DatabaseCollector, PostgresqlWhereNothingListensIsDown) {
  int port = 0;
  {
    LocalSocket probe;
    port = probe.port();
  }  // closed: nothing listens on the port now
  ASSERT_GT(port, 0);
  DatabaseCollector collector(PostgresTarget(port, kDistinctPassword));
  const TimedResult run = CollectWithin(collector, milliseconds(1000));

  EXPECT_LT(run.took, kReturnBound);
  EXPECT_EQ(GaugeValue(run.result, "caloria_database_up"), 0.0);
  EXPECT_FALSE(FindFamily(run.result, "caloria_database_users"));
  ASSERT_TRUE(run.result.error.has_value());
  const HealthCheck* check = DatabaseCheck(run.result);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kUnhealthy);
  EXPECT_EQ(check->details.value("database", ""), "POSTGRESQL");
  EXPECT_FALSE(check->details.contains("sqlite_path"));
  const prometheus::MetricFamily* info = FindFamily(run.result, "caloria_database_info");
  ASSERT_NE(info, nullptr);
  EXPECT_EQ(Label(info->metric.front(), "type"), "postgresql");
  ExpectNoPassword(run.result);
}

TEST(DatabaseCollector, PostgresqlThatNeverAnswersTimesOutAtTheDeadline) {
  LocalSocket server;
  server.Listen();  // accepts TCP connections in the kernel, never answers
  DatabaseCollector collector(PostgresTarget(server.port(), kDistinctPassword));
  const TimedResult run = CollectWithin(collector, kShortDeadline);

  EXPECT_LT(run.took, kReturnBound);
  EXPECT_EQ(GaugeValue(run.result, "caloria_database_up"), 0.0);
  EXPECT_FALSE(FindFamily(run.result, "caloria_database_users"));
  ASSERT_TRUE(run.result.error.has_value());
  EXPECT_TRUE(Contains(*run.result.error, "timed out")) << *run.result.error;
  const HealthCheck* check = DatabaseCheck(run.result);
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kUnhealthy);
  EXPECT_TRUE(Contains(check->details.value("error", ""), "timed out")) << check->details.dump();
  EXPECT_TRUE(Contains(check->details.value("url", ""), "***")) << check->details.dump();
  ExpectNoPassword(run.result);
}

TEST(DatabaseCollector, LibpqErrorsHoldNoPieceOfAPasswordSplitByAnUnencodedAt) {
  // SQLAlchemy ends the password at "S3cr"; libpq is asked to resolve the host
  // "tPa55@127.0.0.1" and quotes it when it cannot.
  const std::string password = "S3cr@tPa55";
  DatabaseTarget target;
  target.url = *ParseSqlalchemyUrl("postgresql://caloria:" + password + "@127.0.0.1:1/caloria");
  target.users_query = kUsersQuery;
  const CollectorResult result = Collect(target, milliseconds(2000));
  EXPECT_EQ(GaugeValue(result, "caloria_database_up"), 0.0);
  ASSERT_TRUE(result.error.has_value());
  const HealthCheck* check = DatabaseCheck(result);
  ASSERT_NE(check, nullptr);
  const std::string shown = *result.error + check->details.dump();
  for (std::size_t i = 0; i + 4 <= password.size(); ++i) {
    EXPECT_FALSE(Contains(shown, password.substr(i, 4))) << shown;
  }
  EXPECT_TRUE(Contains(shown, "127.0.0.1")) << shown;  // the rest of the message is kept
}

TEST(DatabaseCollector, SqliteErrorsAreScrubbedOfTheUrlsSecrets) {
  // SQLite quotes the names in a failing query; a secret query option of the
  // URL (an SQLCipher key, say) is never shown, whatever echoes it.
  TempDir dir;
  const std::string path = MakeUsersDatabase(dir, 1);
  DatabaseTarget target = SqliteTarget(path, "SELECT count(*) FROM Zebra42Key");
  target.url = *ParseSqlalchemyUrl("sqlite:///" + path + "?cipher_key=Zebra42Key");
  const CollectorResult result = Collect(target);
  const HealthCheck* check = DatabaseCheck(result);
  ASSERT_NE(check, nullptr);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, "no such table")) << *result.error;
  const std::string shown = *result.error + check->details.dump();
  EXPECT_FALSE(Contains(shown, "Zebra42Key")) << shown;
  EXPECT_FALSE(Contains(shown, "Zebr")) << shown;
  for (const Problem& problem : result.problems) {
    EXPECT_FALSE(Contains(problem.message, "Zebr")) << problem.message;
  }
}

// ---------------------------------------------------------- ParseUserCount --

TEST(ParseUserCount, AcceptsNonNegativeNumbers) {
  EXPECT_EQ(ParseUserCount("3"), 3.0);
  EXPECT_EQ(ParseUserCount("0"), 0.0);
  EXPECT_EQ(ParseUserCount("1234567"), 1234567.0);
  // PostgreSQL's numeric and a float column render whole counts like these.
  EXPECT_EQ(ParseUserCount("3.0"), 3.0);
  EXPECT_EQ(ParseUserCount("1e3"), 1000.0);
}

TEST(ParseUserCount, RejectsWhatIsNotACount) {
  EXPECT_EQ(ParseUserCount("-1"), std::nullopt);
  EXPECT_EQ(ParseUserCount("abc"), std::nullopt);
  EXPECT_EQ(ParseUserCount(""), std::nullopt);
  EXPECT_EQ(ParseUserCount("3 users"), std::nullopt);
  EXPECT_EQ(ParseUserCount("nan"), std::nullopt);
  EXPECT_EQ(ParseUserCount("inf"), std::nullopt);
}

}  // namespace
}  // namespace caloria
