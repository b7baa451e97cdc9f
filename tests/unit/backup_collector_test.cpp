#include "collectors/backup/backup_collector.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <ostream>
#include <random>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "tests/unit/test_support.h"

namespace caloria {

// Statuses print by name in failure messages.
static void PrintTo(HealthStatus status, std::ostream* out) { *out << HealthStatusName(status); }

namespace {

using ::caloria::testing::ScopedTimeZone;

using ::caloria::testing::Gzip;
using ::caloria::testing::TempDir;

namespace fs = std::filesystem;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

// ---- helpers ------------------------------------------------------------------

Deadline Generous() { return Deadline::After(seconds(30)); }

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

void SetMtime(const std::string& path, std::time_t mtime) {
  const struct timespec times[2] = {{mtime, 0}, {mtime, 0}};
  ASSERT_EQ(utimensat(AT_FDCWD, path.c_str(), times, 0), 0) << path;
}

void Touch(const std::string& path, std::time_t mtime) {
  WriteFile(path, "x");
  SetMtime(path, mtime);
}

std::string SyntheticDump(int users, bool complete = true) {
  std::string text =
      "--\n-- PostgreSQL database dump\n--\n\n"
      "CREATE TABLE public.users (id integer, email text);\n\n"
      "COPY public.users (id, email) FROM stdin;\n";
  for (int i = 1; i <= users; ++i) {
    text += std::to_string(i) + "\tuser" + std::to_string(i) + "@example.com\n";
  }
  text += "\\.\n\n";
  if (complete) text += "--\n-- PostgreSQL database dump complete\n--\n\n";
  return text;
}

void WriteSqliteBackup(const std::string& path, int users) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
            SQLITE_OK);
  std::string sql = "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT);";
  for (int i = 1; i <= users; ++i) sql += "INSERT INTO users (email) VALUES ('u');";
  char* message = nullptr;
  EXPECT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message), SQLITE_OK)
      << (message ? message : "");
  sqlite3_free(message);
  ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

// The backup script's name for a backup made `ago` before now, in local time.
std::string NameFor(const std::string& prefix, std::chrono::seconds ago, const std::string& ext) {
  const std::time_t when = std::time(nullptr) - ago.count();
  std::tm local{};
  localtime_r(&when, &local);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d_%H%M%S", &local);
  return prefix + stamp + ext;
}

std::vector<std::string> Names(const std::vector<BackupFile>& files) {
  std::vector<std::string> names;
  for (const auto& file : files) names.push_back(file.name);
  return names;
}

const prometheus::MetricFamily* FindFamily(const CollectorResult& result, const std::string& name) {
  for (const auto& family : result.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

std::optional<double> Gauge(const CollectorResult& result, const std::string& name) {
  const auto* family = FindFamily(result, name);
  if (!family || family->metric.empty()) return std::nullopt;
  return family->metric.front().gauge.value;
}

const HealthCheck& BackupCheck(const CollectorResult& result) {
  static const HealthCheck kNone{"none", HealthStatus::kUnhealthy, {}};
  for (const auto& check : result.checks) {
    if (check.name == "backup") return check;
  }
  ADD_FAILURE() << "no backup health check";
  return kNone;
}

std::string Problems(const CollectorResult& result) {
  const auto& details = BackupCheck(result).details;
  return details.contains("problems") ? details["problems"].dump() : "";
}

BackupSettings SettingsFor(const TempDir& dir, const std::string& pattern = "caloria_*.sql.gz") {
  BackupSettings settings;
  settings.dir = dir.Path();
  settings.pattern = pattern;
  settings.max_age = hours(26);
  settings.retention = hours(24 * 7);
  settings.verify_timeout = std::chrono::minutes(1);
  return settings;
}

// Collects until `done` holds or `limit` passes; returns the last result.
CollectorResult CollectUntil(BackupCollector& collector,
                             const std::function<bool(const CollectorResult&)>& done,
                             milliseconds limit = milliseconds(5000)) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  CollectorResult result = collector.Collect(Generous());
  while (!done(result) && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(20));
    result = collector.Collect(Generous());
  }
  return result;
}

bool VerificationIn(const CollectorResult& result) {
  return Gauge(result, "caloria_backup_latest_verified").has_value();
}

// ---- ScanBackupDir --------------------------------------------------------------

// 2025-07-24 20:30:33 UTC, 2025-01-01 00:00:00 UTC, 2020-01-01 00:00:00 UTC.
constexpr std::time_t kJuly = 1753389033;
constexpr std::time_t kJanuary = 1735689600;
constexpr std::time_t kLongAgo = 1577836800;

// A folder that must scan; a failure names the error.
std::vector<BackupFile> Scan(const std::string& dir, const std::string& pattern,
                             const Deadline& deadline) {
  Result<std::vector<BackupFile>> files = ScanBackupDir(dir, pattern, deadline);
  EXPECT_TRUE(files.ok()) << (files ? "" : files.error());
  return files ? *files : std::vector<BackupFile>{};
}

TEST(ScanBackupDir, NameTimestampBeatsMtime) {
  ScopedTimeZone zone("UTC0");
  TempDir dir;
  // The July backup was copied (old mtime); the January one touched today.
  Touch(dir.File("caloria_20250724_203033.sql.gz"), kLongAgo);
  Touch(dir.File("caloria_20250101_000000.sql.gz"), std::time(nullptr));
  const auto files = Scan(dir.Path(), "caloria_*.sql.gz", Generous());
  ASSERT_EQ(Names(files), (std::vector<std::string>{"caloria_20250724_203033.sql.gz",
                                                    "caloria_20250101_000000.sql.gz"}));
  EXPECT_EQ(files[0].time, kJuly);
  EXPECT_EQ(files[0].mtime, kLongAgo);
  EXPECT_EQ(files[1].time, kJanuary);
}

TEST(ScanBackupDir, FilesWithoutTimestampUseMtime) {
  ScopedTimeZone zone("UTC0");
  TempDir dir;
  Touch(dir.File("caloria_nightly.sql.gz"), kJuly + 3600);
  Touch(dir.File("caloria_20250724_203033.sql.gz"), kJuly + 7200);  // the name wins
  Touch(dir.File("caloria_weekly.sql.gz"), kJanuary);
  const auto files = Scan(dir.Path(), "caloria_*.sql.gz", Generous());
  ASSERT_EQ(Names(files),
            (std::vector<std::string>{"caloria_nightly.sql.gz", "caloria_20250724_203033.sql.gz",
                                      "caloria_weekly.sql.gz"}));
  EXPECT_EQ(files[0].time, kJuly + 3600);
  EXPECT_EQ(files[1].time, kJuly);
  EXPECT_EQ(files[2].time, kJanuary);
}

TEST(ScanBackupDir, OnlyNamesMatchingThePatternAreListed) {
  ScopedTimeZone zone("UTC0");
  TempDir dir;
  for (const char* name : {"caloria_20250724_203033.sql.gz", "caloria_20250723_203033.sql.gz",
                           "caloria_backup_20250724_202435.db", "other_20250724_203033.sql.gz",
                           "caloria_20250724_203033.sql.gz.tmp", "caloria_20250724_203033.sql",
                           "caloria.sql.gz", "README"}) {
    Touch(dir.File(name), kJanuary);
  }
  EXPECT_EQ(Names(Scan(dir.Path(), "caloria_*.sql.gz", Generous())),
            (std::vector<std::string>{"caloria_20250724_203033.sql.gz",
                                      "caloria_20250723_203033.sql.gz"}));
  EXPECT_EQ(Names(Scan(dir.Path(), "caloria_backup_*.db", Generous())),
            (std::vector<std::string>{"caloria_backup_20250724_202435.db"}));
  EXPECT_TRUE(Scan(dir.Path(), "*.tar", Generous()).empty());
}

TEST(ScanBackupDir, SubdirectoriesAndDotfilesAreIgnored) {
  ScopedTimeZone zone("UTC0");
  TempDir dir;
  Touch(dir.File("caloria_20250101_000000.sql.gz"), kJanuary);
  fs::create_directory(dir.File("caloria_20260101_000000.sql.gz"));  // a folder, newest name
  Touch(dir.File(".caloria_20260102_000000.sql.gz"), kJanuary);      // hidden
  Touch(dir.File(".caloria_20260103_000000.sql.gz.tmp"), kJanuary);  // the script's temp file
  for (const char* pattern : {"caloria_*.sql.gz", "*.sql.gz", "*"}) {
    EXPECT_EQ(Names(Scan(dir.Path(), pattern, Generous())),
              (std::vector<std::string>{"caloria_20250101_000000.sql.gz"}))
        << pattern;
  }
}

TEST(ScanBackupDir, EntriesCarryPathSizeAndTimes) {
  ScopedTimeZone zone("UTC0");
  TempDir dir;
  WriteFile(dir.File("caloria_20250724_203033.sql.gz"), std::string(1234, 'b'));
  SetMtime(dir.File("caloria_20250724_203033.sql.gz"), kJanuary);
  for (const std::string& folder : {dir.Path(), dir.Path() + "/"}) {
    const auto files = Scan(folder, "caloria_*.sql.gz", Generous());
    ASSERT_EQ(files.size(), 1u);
    EXPECT_EQ(files[0].path, dir.File("caloria_20250724_203033.sql.gz"));
    EXPECT_EQ(files[0].name, "caloria_20250724_203033.sql.gz");
    EXPECT_EQ(files[0].size, 1234u);
    EXPECT_EQ(files[0].mtime, kJanuary);
    EXPECT_EQ(files[0].time, kJuly);
  }
}

TEST(ScanBackupDir, EmptyFolderHasNoBackups) {
  TempDir dir;
  EXPECT_TRUE(Scan(dir.Path(), "caloria_*.sql.gz", Generous()).empty());
}

TEST(ScanBackupDir, MissingFolderIsAnErrorOfOneLineNamingIt) {
  TempDir dir;
  const std::string missing = dir.File("no_such_folder");
  const auto files = ScanBackupDir(missing, "caloria_*.sql.gz", Generous());
  ASSERT_FALSE(files.ok());
  EXPECT_NE(files.error().find(missing), std::string::npos) << files.error();
  EXPECT_EQ(files.error().find('\n'), std::string::npos) << files.error();
}

TEST(ScanBackupDir, FileInsteadOfFolderIsAnError) {
  TempDir dir;
  Touch(dir.File("not_a_folder"), kJanuary);
  EXPECT_FALSE(ScanBackupDir(dir.File("not_a_folder"), "*", Generous()).ok());
}

TEST(ScanBackupDir, ExpiredDeadlineStopsTheScan) {
  TempDir dir;
  Touch(dir.File("caloria_20250101_000000.sql.gz"), kJanuary);
  const Deadline expired(Deadline::Clock::now() - seconds(1));
  EXPECT_FALSE(ScanBackupDir(dir.Path(), "caloria_*.sql.gz", expired).ok());
}

// ---- JudgeBackup ----------------------------------------------------------------

BackupVerification Verified(std::optional<std::int64_t> users) {
  BackupVerification verification;
  verification.verified = true;
  verification.users = users;
  return verification;
}

BackupVerification FailedVerification(const std::string& error) {
  BackupVerification verification;
  verification.error = error;
  return verification;
}

// A healthy baseline: a verified backup an hour old with as many users as
// the live database.
BackupFacts HealthyFacts() {
  BackupFacts facts;
  BackupFile latest;
  latest.name = "caloria_20250724_203033.sql.gz";
  latest.path = "/var/backups/caloria/" + latest.name;
  latest.size = 1000;
  facts.latest = latest;
  facts.latest_age_seconds = 3600;
  facts.verification = Verified(100);
  facts.live_users = 100;
  facts.max_age = hours(26);
  return facts;
}

struct JudgeCase {
  std::string rule;
  std::function<void(BackupFacts&)> change;
  HealthStatus status;
  std::size_t reasons;
  std::string reason_mentions;  // "" for no reason
};

TEST(JudgeBackup, EachRuleGivesItsStatus) {
  const double max_age = 26 * 3600;
  const std::vector<JudgeCase> cases = {
      {"a fresh verified backup is healthy", [](BackupFacts&) {}, HealthStatus::kHealthy, 0, ""},
      {"an unreadable folder is unhealthy",
       [](BackupFacts& f) { f.dir_error = "cannot read the backup folder /x"; },
       HealthStatus::kUnhealthy, 1, "cannot read the backup folder /x"},
      {"no backup is unhealthy", [](BackupFacts& f) { f.latest.reset(); }, HealthStatus::kUnhealthy,
       1, "no backup"},
      {"a backup older than max-age is unhealthy",
       [=](BackupFacts& f) { f.latest_age_seconds = max_age + 1; }, HealthStatus::kUnhealthy, 1,
       "max-age"},
      {"a backup exactly max-age old is not too old",
       [=](BackupFacts& f) { f.latest_age_seconds = max_age; }, HealthStatus::kHealthy, 0, ""},
      {"max-age comes from the facts",
       [](BackupFacts& f) {
         f.max_age = hours(1);
         f.latest_age_seconds = 2 * 3600;
       },
       HealthStatus::kUnhealthy, 1, "max-age=1h"},
      {"a corrupt backup is unhealthy",
       [](BackupFacts& f) { f.verification = FailedVerification("corrupt gzip data (bad)"); },
       HealthStatus::kUnhealthy, 1, "corrupt gzip data (bad)"},
      {"a pending verification changes nothing", [](BackupFacts& f) { f.verification.reset(); },
       HealthStatus::kHealthy, 0, ""},
      {"a pending verification does not hide an old backup",
       [=](BackupFacts& f) {
         f.verification.reset();
         f.latest_age_seconds = max_age * 2;
       },
       HealthStatus::kUnhealthy, 1, "old"},
      {"retention violations are degraded", [](BackupFacts& f) { f.retention_violations = 3; },
       HealthStatus::kDegraded, 1, "3 backup"},
      {"a backup without users table is degraded",
       [](BackupFacts& f) { f.verification = Verified(std::nullopt); }, HealthStatus::kDegraded, 1,
       "no users table"},
      {"a backup with no users is degraded", [](BackupFacts& f) { f.verification = Verified(0); },
       HealthStatus::kDegraded, 1, "no users"},
      {"a backup with no users is degraded when the live count is unknown",
       [](BackupFacts& f) {
         f.verification = Verified(0);
         f.live_users.reset();
       },
       HealthStatus::kDegraded, 1, "no users"},
      {"no users in the backup and none live is healthy",
       [](BackupFacts& f) {
         f.verification = Verified(0);
         f.live_users = 0;
       },
       HealthStatus::kHealthy, 0, ""},
      {"fewer than half the live users is degraded",
       [](BackupFacts& f) { f.verification = Verified(49); }, HealthStatus::kDegraded, 1,
       "49 users"},
      {"3 of 100 live users is degraded", [](BackupFacts& f) { f.verification = Verified(3); },
       HealthStatus::kDegraded, 1, "100"},
      {"exactly half the live users is healthy",
       [](BackupFacts& f) { f.verification = Verified(50); }, HealthStatus::kHealthy, 0, ""},
      {"more users in the backup than live is healthy",
       [](BackupFacts& f) { f.verification = Verified(150); }, HealthStatus::kHealthy, 0, ""},
      {"few users with an unknown live count is healthy",
       [](BackupFacts& f) {
         f.verification = Verified(3);
         f.live_users.reset();
       },
       HealthStatus::kHealthy, 0, ""},
      {"user counts are not judged on a corrupt backup",
       [](BackupFacts& f) {
         f.verification = FailedVerification("truncated");
         f.verification->users = 0;
       },
       HealthStatus::kUnhealthy, 1, "truncated"},
      {"the worst finding decides and every finding is listed",
       [=](BackupFacts& f) {
         f.latest_age_seconds = max_age * 3;
         f.verification = FailedVerification("truncated");
         f.retention_violations = 1;
       },
       HealthStatus::kUnhealthy, 3, "retention"},
      {"an unreadable folder is the only finding",
       [](BackupFacts& f) {
         f.dir_error = "cannot read";
         f.retention_violations = 2;
         f.verification = Verified(0);
       },
       HealthStatus::kUnhealthy, 1, "cannot read"},
  };
  for (const auto& c : cases) {
    BackupFacts facts = HealthyFacts();
    c.change(facts);
    const BackupJudgement judgement = JudgeBackup(facts);
    EXPECT_EQ(judgement.status, c.status) << c.rule;
    EXPECT_EQ(judgement.reasons.size(), c.reasons) << c.rule;
    if (!c.reason_mentions.empty()) {
      std::string all;
      for (const auto& reason : judgement.reasons) all += reason + "\n";
      EXPECT_NE(all.find(c.reason_mentions), std::string::npos) << c.rule << ": reasons were\n"
                                                                << all;
    }
  }
}

TEST(JudgeBackup, EveryReasonIsOneLine) {
  BackupFacts facts = HealthyFacts();
  facts.latest_age_seconds = 1e6;
  facts.verification = FailedVerification("truncated");
  facts.retention_violations = 4;
  for (const auto& reason : JudgeBackup(facts).reasons) {
    EXPECT_FALSE(reason.empty());
    EXPECT_EQ(reason.find('\n'), std::string::npos) << reason;
  }
}

TEST(JudgeBackup, TimedOutVerificationIsNotCorruption) {
  // BackupVerification::timed_out: "ran out of time: try again later, not
  // corrupt". Unhealthy is for corrupt backups only.
  BackupFacts facts = HealthyFacts();
  BackupVerification timed_out = FailedVerification("verification did not finish in time");
  timed_out.timed_out = true;
  facts.verification = timed_out;
  EXPECT_NE(JudgeBackup(facts).status, HealthStatus::kUnhealthy);
}

// ---- BackupCollector end to end --------------------------------------------------

TEST(BackupCollector, FirstCollectIsPendingThenTheVerificationArrives) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(7)));
  BackupCollector collector(SettingsFor(dir), nullptr);

  const CollectorResult first = collector.Collect(Generous());
  EXPECT_FALSE(first.error.has_value());
  EXPECT_EQ(Gauge(first, "caloria_backup_directory_readable"), 1);
  EXPECT_EQ(Gauge(first, "caloria_backup_files"), 1);
  EXPECT_TRUE(Gauge(first, "caloria_backup_latest_timestamp_seconds").has_value());
  EXPECT_EQ(FindFamily(first, "caloria_backup_latest_verified"), nullptr)
      << "the first poll must not wait for the verification";
  EXPECT_EQ(FindFamily(first, "caloria_backup_latest_users"), nullptr);
  const HealthCheck& check = BackupCheck(first);
  EXPECT_EQ(check.details["verification"], "pending");
  EXPECT_TRUE(check.details["verified"].is_null());
  EXPECT_EQ(check.status, HealthStatus::kHealthy) << Problems(first);

  const CollectorResult later = CollectUntil(collector, VerificationIn);
  ASSERT_TRUE(VerificationIn(later)) << "no verification within 5 s";
  EXPECT_EQ(Gauge(later, "caloria_backup_latest_verified"), 1);
  EXPECT_EQ(BackupCheck(later).details["verification"], "passed");
  EXPECT_EQ(Gauge(later, "caloria_backup_latest_users"), 7);
  EXPECT_EQ(BackupCheck(later).status, HealthStatus::kHealthy) << Problems(later);
}

TEST(BackupCollector, ChangedFileIsVerifiedAgain) {
  TempDir dir;
  const std::string path = dir.File(NameFor("caloria_", seconds(60), ".sql.gz"));
  WriteFile(path, Gzip(SyntheticDump(7)));
  BackupCollector collector(SettingsFor(dir), nullptr);
  CollectorResult result = CollectUntil(collector, VerificationIn);
  ASSERT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1);

  // Rewritten, cut short: a different size, so it is read again.
  const std::string full = Gzip(SyntheticDump(20));
  WriteFile(path, full.substr(0, full.size() / 2));
  result = collector.Collect(Generous());
  EXPECT_EQ(FindFamily(result, "caloria_backup_latest_verified"), nullptr)
      << "a changed file's old result must not be reused";
  result = CollectUntil(collector, VerificationIn);
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_verified"), 0);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kUnhealthy);
  EXPECT_NE(Problems(result).find("truncated"), std::string::npos) << Problems(result);

  // Rewritten whole.
  WriteFile(path, full);
  result = CollectUntil(collector, [](const CollectorResult& r) {
    return Gauge(r, "caloria_backup_latest_verified") == 1;
  });
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_size_bytes"), static_cast<double>(full.size()));
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_users"), 20);
}

TEST(BackupCollector, NewerBackupIsTheOneVerified) {
  TempDir dir;
  const std::string good = Gzip(SyntheticDump(5));
  WriteFile(dir.File(NameFor("caloria_", hours(25), ".sql.gz")), good.substr(0, 20));  // old, bad
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), good);
  BackupCollector collector(SettingsFor(dir), nullptr);
  const CollectorResult result = CollectUntil(collector, VerificationIn);
  EXPECT_EQ(Gauge(result, "caloria_backup_files"), 2);
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_previous_size_bytes"), 20);
}

TEST(BackupCollector, BackupWithFarFewerUsersThanLiveIsDegraded) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(3)));
  auto live = std::make_shared<LiveUserCount>();
  live->Set(100);
  BackupCollector collector(SettingsFor(dir), live);
  const CollectorResult result = CollectUntil(collector, VerificationIn);
  ASSERT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_users"), 3);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kDegraded);
  EXPECT_NE(Problems(result).find("holds 3 users"), std::string::npos) << Problems(result);
}

TEST(BackupCollector, SqliteBackupWithFarFewerUsersThanLiveIsDegraded) {
  TempDir dir;
  WriteSqliteBackup(dir.File(NameFor("caloria_backup_", seconds(60), ".db")), 3);
  auto live = std::make_shared<LiveUserCount>();
  live->Set(100);
  BackupCollector collector(SettingsFor(dir, "caloria_backup_*.db"), live);
  const CollectorResult result = CollectUntil(collector, VerificationIn);
  ASSERT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_users"), 3);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kDegraded);
  EXPECT_NE(Problems(result).find("holds 3 users"), std::string::npos) << Problems(result);

  live->Set(4);  // the live count is read at every poll
  const CollectorResult next = collector.Collect(Generous());
  EXPECT_EQ(BackupCheck(next).status, HealthStatus::kHealthy) << Problems(next);
}

TEST(BackupCollector, MissingFolderIsUnhealthyAndAnError) {
  TempDir dir;
  BackupSettings settings = SettingsFor(dir);
  settings.dir = dir.File("missing");
  BackupCollector collector(settings, nullptr);
  const CollectorResult result = collector.Collect(Generous());
  EXPECT_EQ(Gauge(result, "caloria_backup_directory_readable"), 0);
  EXPECT_EQ(FindFamily(result, "caloria_backup_files"), nullptr);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_NE(result.error->find(settings.dir), std::string::npos) << *result.error;
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kUnhealthy);
}

TEST(BackupCollector, EmptyFolderIsUnhealthyWithoutLatestMetrics) {
  TempDir dir;
  BackupCollector collector(SettingsFor(dir), nullptr);
  const CollectorResult result = collector.Collect(Generous());
  EXPECT_EQ(Gauge(result, "caloria_backup_directory_readable"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_files"), 0);
  EXPECT_EQ(FindFamily(result, "caloria_backup_latest_timestamp_seconds"), nullptr);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kUnhealthy);
  EXPECT_NE(Problems(result).find("no backup"), std::string::npos) << Problems(result);
  EXPECT_FALSE(result.error.has_value());
}

TEST(BackupCollector, BackupsOlderThanRetentionAreCounted) {
  TempDir dir;
  const std::string dump = Gzip(SyntheticDump(5));
  WriteFile(dir.File(NameFor("caloria_", hours(24 * 10), ".sql.gz")), dump);
  WriteFile(dir.File(NameFor("caloria_", hours(24 * 2), ".sql.gz")), dump);
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), dump);
  BackupCollector collector(SettingsFor(dir), nullptr);
  const CollectorResult result = CollectUntil(collector, VerificationIn);
  EXPECT_EQ(Gauge(result, "caloria_backup_files"), 3);
  EXPECT_EQ(Gauge(result, "caloria_backup_retention_violations"), 1);
  EXPECT_EQ(Gauge(result, "caloria_backup_total_size_bytes"), 3.0 * dump.size());
  EXPECT_NE(Problems(result).find("retention"), std::string::npos) << Problems(result);
  EXPECT_NE(BackupCheck(result).status, HealthStatus::kHealthy);
}

TEST(BackupCollector, BackupLogOutcomesAreExported) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(5)));
  WriteFile(dir.File("backup.log"),
            "2026-11-24T02:00:04+00:00 caloria-backup SUCCESS file=a size=1 users=5\n"
            "2026-11-25T02:00:04+00:00 caloria-backup ERROR pg_dump failed (exit 1)\n");
  BackupSettings settings = SettingsFor(dir);
  settings.log_path = dir.File("backup.log");
  BackupCollector collector(settings, nullptr);
  const CollectorResult result = collector.Collect(Generous());
  EXPECT_EQ(Gauge(result, "caloria_backup_log_last_success_timestamp_seconds"), 1795485604);
  EXPECT_EQ(Gauge(result, "caloria_backup_log_last_error_timestamp_seconds"), 1795572004);
  EXPECT_EQ(BackupCheck(result).details["log_last_error_message"], "pg_dump failed (exit 1)");
  EXPECT_FALSE(result.error.has_value());
}

TEST(BackupCollector, UnreadableBackupLogIsAnError) {
  TempDir dir;
  BackupSettings settings = SettingsFor(dir);
  settings.log_path = dir.File("missing.log");
  BackupCollector collector(settings, nullptr);
  const CollectorResult result = collector.Collect(Generous());
  ASSERT_TRUE(result.error.has_value());
  EXPECT_NE(result.error->find("missing.log"), std::string::npos) << *result.error;
}

TEST(BackupCollector, TimedOutVerificationIsNotReportedAsCorrupt) {
  // A verification that runs out of time is "try again later, not corrupt"
  // (BackupVerification::timed_out): the backup must not be reported as
  // failed, nor the check as unhealthy, because the verifier was slow.
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(5)));
  BackupSettings settings = SettingsFor(dir);
  settings.verify_timeout = milliseconds(0);  // every verification times out
  BackupCollector collector(settings, nullptr);
  const CollectorResult result = CollectUntil(
      collector,
      [](const CollectorResult& r) { return Gauge(r, "caloria_backup_latest_verified") == 0; },
      milliseconds(1000));
  EXPECT_NE(Gauge(result, "caloria_backup_latest_verified"), 0)
      << "a timed-out verification was exported as a failed one";
  EXPECT_NE(BackupCheck(result).status, HealthStatus::kUnhealthy) << Problems(result);
}

// Counts the times a file is opened, through inotify. Closes are watched too,
// so that back-to-back opens are not merged into one event.
class OpenCounter {
 public:
  explicit OpenCounter(const std::string& path) {
    fd_ = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (fd_ >= 0 && inotify_add_watch(fd_, path.c_str(), IN_OPEN | IN_CLOSE) < 0) {
      close(fd_);
      fd_ = -1;
    }
  }
  ~OpenCounter() {
    if (fd_ >= 0) close(fd_);
  }
  OpenCounter(const OpenCounter&) = delete;
  OpenCounter& operator=(const OpenCounter&) = delete;

  bool ok() const { return fd_ >= 0; }
  // Opens so far.
  int Count() {
    alignas(inotify_event) char buffer[4096];
    ssize_t got;
    while ((got = read(fd_, buffer, sizeof buffer)) > 0) {
      for (ssize_t at = 0; at < got;) {
        const auto* event = reinterpret_cast<const inotify_event*>(buffer + at);
        if (event->mask & IN_OPEN) ++opens_;
        at += static_cast<ssize_t>(sizeof(inotify_event) + event->len);
      }
    }
    return opens_;
  }

 private:
  int fd_ = -1;
  int opens_ = 0;
};

TEST(BackupCollector, FileIsReadOnceEvenWhenPollsArriveDuringItsVerification) {
  // "Each file is verified once, keyed by (path, size, mtime)": a poll that
  // comes while the worker is still reading the file must not queue it again.
  TempDir dir;
  const std::string path = dir.File(NameFor("caloria_", seconds(60), ".sql.gz"));
  {
    // ~50 MB of short rows: a verification that takes a moment.
    std::string rows;
    for (int i = 0; i < 100000; ++i) rows += "1234567\n";
    std::string text = SyntheticDump(10, false);
    text += "COPY public.meals (id) FROM stdin;\n";
    for (int i = 0; i < 60; ++i) text += rows;
    text += "\\.\n\n--\n-- PostgreSQL database dump complete\n--\n";
    WriteFile(path, Gzip(text));
  }
  OpenCounter opens(path);
  if (!opens.ok()) GTEST_SKIP() << "inotify is not available";

  // How many opens one verification takes.
  ASSERT_TRUE(VerifyBackupFile(path, "users", Generous()).verified);
  const int opens_for_one_verification = opens.Count();
  ASSERT_GT(opens_for_one_verification, 0);

  BackupCollector collector(SettingsFor(dir), nullptr);
  ASSERT_FALSE(VerificationIn(collector.Collect(Generous())));
  // Wait until the worker has opened the file, then poll while it reads.
  const auto give_up = std::chrono::steady_clock::now() + seconds(5);
  while (opens.Count() == opens_for_one_verification &&
         std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(1));
  }
  ASSERT_GT(opens.Count(), opens_for_one_verification) << "the worker never opened the backup";
  if (VerificationIn(collector.Collect(Generous()))) {
    GTEST_SKIP() << "the verification finished too fast to poll during it";
  }
  ASSERT_TRUE(VerificationIn(CollectUntil(collector, VerificationIn)));
  // Give a second verification, if one was queued, the time to run.
  std::this_thread::sleep_for(milliseconds(300));
  collector.Collect(Generous());
  const int opens_by_polled_collector = opens.Count() - opens_for_one_verification;
  EXPECT_EQ(opens_by_polled_collector, opens_for_one_verification)
      << "the backup was verified again although it did not change";
}

bool TimedOut(const CollectorResult& result) {
  for (const auto& check : result.checks) {
    if (check.name == "backup") return check.details.value("verification", "") == "timed_out";
  }
  return false;
}

// Polls a while and returns how often the file was opened meanwhile.
int OpensWhilePolling(BackupCollector& collector, OpenCounter& opens) {
  const int before = opens.Count();
  for (int i = 0; i < 10; ++i) {
    collector.Collect(Generous());
    std::this_thread::sleep_for(milliseconds(30));
  }
  return opens.Count() - before;
}

TEST(BackupCollector, TimedOutVerificationIsRetriedOnlyAfterItsBackoff) {
  TempDir dir;
  const std::string path = dir.File(NameFor("caloria_", seconds(60), ".sql.gz"));
  WriteFile(path, Gzip(SyntheticDump(5)));
  OpenCounter opens(path);
  if (!opens.ok()) GTEST_SKIP() << "inotify is not available";

  BackupSettings settings = SettingsFor(dir);
  settings.verify_timeout = milliseconds(0);  // every verification times out
  {
    BackupCollector collector(settings, nullptr);
    ASSERT_TRUE(TimedOut(CollectUntil(collector, TimedOut)));
    EXPECT_EQ(OpensWhilePolling(collector, opens), 0)
        << "a timed-out verification was retried at every poll";
  }
  // With no backoff, polls keep queueing it: more opens than one try takes.
  const int before = opens.Count();
  ASSERT_TRUE(VerifyBackupFile(path, "users", Deadline::After(milliseconds(0))).timed_out);
  const int opens_per_try = opens.Count() - before;
  settings.retry_timed_out_after = milliseconds(0);
  BackupCollector collector(settings, nullptr);
  EXPECT_GT(OpensWhilePolling(collector, opens), opens_per_try)
      << "a timed-out verification was never tried again";
}

TEST(BackupCollector, TellsWhenAVerificationHasFinished) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(3)));
  std::atomic<int> finished{0};
  BackupCollector collector(SettingsFor(dir), nullptr, [&finished] { ++finished; });
  EXPECT_FALSE(VerificationIn(collector.Collect(Generous())));
  const auto give_up = std::chrono::steady_clock::now() + seconds(5);
  while (finished == 0 && std::chrono::steady_clock::now() < give_up) {
    std::this_thread::sleep_for(milliseconds(5));
  }
  ASSERT_EQ(finished, 1);
  // The poll it asks for finds the result without waiting.
  EXPECT_TRUE(VerificationIn(collector.Collect(Generous())));
}

TEST(BackupCollector, DestroyingWhileVerifyingReturns) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(50000)));
  const auto start = std::chrono::steady_clock::now();
  {
    BackupCollector collector(SettingsFor(dir), nullptr);
    collector.Collect(Generous());  // queues the verification
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
}

// ---- issue 10, faults survived (tests/integration/test_faults_backup.py) ----------

TEST(ScanBackupDir, ChmodMovesTheChangeTime) {
  TempDir dir;
  const std::string path = dir.File("caloria_20250724_203033.sql.gz");
  WriteFile(path, "x");
  const auto before = Scan(dir.Path(), "caloria_*.sql.gz", Generous());
  ASSERT_EQ(before.size(), 1u);
  EXPECT_GT(before[0].ctime_ns, 0);
  std::this_thread::sleep_for(milliseconds(20));
  ASSERT_EQ(chmod(path.c_str(), 0640), 0);
  const auto after = Scan(dir.Path(), "caloria_*.sql.gz", Generous());
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].mtime, before[0].mtime);
  EXPECT_EQ(after[0].size, before[0].size);
  EXPECT_NE(after[0].ctime_ns, before[0].ctime_ns) << "chmod must show in the scan";
}

TEST(BackupCollector, FileChangedUnderTheSameSizeAndMtimeIsVerifiedAgain) {
  // A failed verification must not outlive the cause: a backup that could
  // not be opened and was then made readable (chmod), or a damaged copy
  // replaced by a good one of the same size with its mtime kept (cp -p,
  // rsync -t), is read again. The tests run as root, for whom chmod changes
  // nothing: a flipped byte restored under the same mtime stands in for it.
  TempDir dir;
  const std::string path = dir.File(NameFor("caloria_", seconds(60), ".sql.gz"));
  const std::string good = Gzip(SyntheticDump(7));
  std::string bad = good;
  bad[bad.size() / 2] = static_cast<char>(bad[bad.size() / 2] ^ 0xFF);
  WriteFile(path, bad);
  const std::time_t mtime = std::time(nullptr) - 30;
  SetMtime(path, mtime);
  BackupCollector collector(SettingsFor(dir), nullptr);
  CollectorResult result = CollectUntil(collector, VerificationIn);
  ASSERT_EQ(Gauge(result, "caloria_backup_latest_verified"), 0) << Problems(result);

  std::this_thread::sleep_for(milliseconds(20));  // a later change time
  WriteFile(path, good);
  SetMtime(path, mtime);
  result = CollectUntil(collector, [](const CollectorResult& r) {
    return Gauge(r, "caloria_backup_latest_verified") == 1;
  });
  EXPECT_EQ(Gauge(result, "caloria_backup_latest_verified"), 1)
      << "the old failure was kept for a file that changed: " << Problems(result);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kHealthy) << Problems(result);
}

TEST(JudgeBackup, AnUnreadableLogDegradesWithItsReason) {
  BackupFacts facts = HealthyFacts();
  facts.log_error = "cannot read the backup log /x/backup.log: check --backup.log";
  const BackupJudgement judgement = JudgeBackup(facts);
  EXPECT_EQ(judgement.status, HealthStatus::kDegraded);
  ASSERT_EQ(judgement.reasons.size(), 1u);
  EXPECT_EQ(judgement.reasons[0], *facts.log_error);
}

TEST(BackupCollector, UnreadableBackupLogIsAReasonOnTheCheck) {
  TempDir dir;
  WriteFile(dir.File(NameFor("caloria_", seconds(60), ".sql.gz")), Gzip(SyntheticDump(5)));
  BackupSettings settings = SettingsFor(dir);
  settings.log_path = dir.File("rotated-away.log");
  BackupCollector collector(settings, nullptr);
  CollectorResult result = CollectUntil(collector, VerificationIn);
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kDegraded) << Problems(result);
  EXPECT_NE(Problems(result).find("rotated-away.log"), std::string::npos) << Problems(result);

  WriteFile(dir.File("rotated-away.log"), "");  // the next run creates it
  result = collector.Collect(Generous());
  EXPECT_EQ(BackupCheck(result).status, HealthStatus::kHealthy) << Problems(result);
  EXPECT_FALSE(result.error.has_value());
}

}  // namespace
}  // namespace caloria
