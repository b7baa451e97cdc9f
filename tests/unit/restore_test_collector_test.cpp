#include "collectors/restore/restore_test_collector.h"

#include <gtest/gtest.h>

#include <chrono>
#include <fstream>
#include <string>

#include "collectors/restore/restore_state.h"
#include "core/clock.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::BuildCollectors;
using ::caloria::testing::FindFamily;
using ::caloria::testing::TempDir;

constexpr auto kGenerous = std::chrono::seconds(5);

double Now() { return UnixSeconds(std::chrono::system_clock::now()); }

std::optional<double> Gauge(const CollectorResult& result, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(result, name);
  if (!family || family->metric.empty()) return std::nullopt;
  return family->metric.front().gauge.value;
}

RestoreRun Passed(double finished) {
  RestoreRun run;
  run.finished = finished;
  run.success = true;
  run.duration_seconds = 2.5;
  run.backup_file = "/backups/caloria_20261201_020000.sql.gz";
  run.backup_timestamp = finished - 3600;
  run.backup_format = "plain";
  run.restored_users = 3;
  run.backup_users = 3;
  run.live_users = 4;
  run.target = "postgresql://restore:***@127.0.0.1/postgres";
  return run;
}

class RestoreTestCollectorTest : public ::testing::Test {
 protected:
  CollectorResult Collect(std::chrono::hours max_age = std::chrono::hours(24 * 8)) {
    RestoreTestCollector collector({state_file_, max_age});
    return collector.Collect(Deadline::After(kGenerous));
  }
  void Write(const RestoreState& state) { ASSERT_TRUE(WriteRestoreState(state_file_, state)); }

  TempDir dir_;
  std::string state_file_ = dir_.File("restore-test.json");
};

TEST_F(RestoreTestCollectorTest, ARecentSuccessIsHealthyWithEveryFigure) {
  const double finished = Now() - 60;
  Write({Passed(finished), Passed(finished)});
  const CollectorResult result = Collect();
  EXPECT_FALSE(result.error.has_value());
  EXPECT_EQ(Gauge(result, "caloria_restore_test_state_readable"), 1);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_run_success"), 1);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_run_timestamp_seconds"), finished);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_success_timestamp_seconds"), finished);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_duration_seconds"), 2.5);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_backup_timestamp_seconds"), finished - 3600);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_users"), 3);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_backup_users"), 3);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_live_users"), 4);
  ASSERT_EQ(result.checks.size(), 1u);
  EXPECT_EQ(result.checks[0].name, "restore");
  EXPECT_EQ(result.checks[0].status, HealthStatus::kHealthy);
  EXPECT_EQ(result.checks[0].details["last_success"]["restored_users"], 3);
  EXPECT_FALSE(result.checks[0].details.contains("reason"));
}

TEST_F(RestoreTestCollectorTest, AFailedRunKeepsTheLastSuccessAndIsDegraded) {
  const double proven = Now() - 86400;
  RestoreRun failed;
  failed.finished = Now() - 30;
  failed.error = "pg_restore failed: role \"ghost\" does not exist";
  Write({failed, Passed(proven)});
  const CollectorResult result = Collect();
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_run_success"), 0);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_success_timestamp_seconds"), proven);
  EXPECT_EQ(Gauge(result, "caloria_restore_test_users"), 3);
  EXPECT_EQ(result.checks[0].status, HealthStatus::kDegraded);
  EXPECT_EQ(result.checks[0].details["reason"],
            "the last restore test failed: pg_restore failed: role \"ghost\" does not exist");
  EXPECT_EQ(result.checks[0].details["last_run"]["error"], failed.error);
}

TEST_F(RestoreTestCollectorTest, NeverSucceededReportsZeroAndNoRestoredFigures) {
  RestoreRun failed;
  failed.finished = Now();
  failed.error = "the restore ran past --timeout=30m and was killed";
  Write({failed, std::nullopt});
  const CollectorResult result = Collect();
  EXPECT_EQ(Gauge(result, "caloria_restore_test_last_success_timestamp_seconds"), 0);
  EXPECT_EQ(FindFamily(result, "caloria_restore_test_users"), nullptr);
  EXPECT_EQ(FindFamily(result, "caloria_restore_test_backup_timestamp_seconds"), nullptr);
  EXPECT_EQ(FindFamily(result, "caloria_restore_test_live_users"), nullptr);
  EXPECT_EQ(result.checks[0].status, HealthStatus::kDegraded);
  EXPECT_TRUE(result.checks[0].details["last_success"].is_null());
}

TEST_F(RestoreTestCollectorTest, ASuccessOlderThanMaxAgeIsDegraded) {
  const double old = Now() - 3 * 3600;
  Write({Passed(old), Passed(old)});
  EXPECT_EQ(Collect(std::chrono::hours(4)).checks[0].status, HealthStatus::kHealthy);
  const CollectorResult stale = Collect(std::chrono::hours(2));
  EXPECT_EQ(stale.checks[0].status, HealthStatus::kDegraded);
  EXPECT_EQ(stale.checks[0].details["reason"],
            "the last successful restore test is older than --restore.max-age=2h");
  EXPECT_EQ(Gauge(stale, "caloria_restore_test_last_run_success"), 1);
}

TEST_F(RestoreTestCollectorTest, AMissingOrCorruptStateFileIsAFailedCollectorAndDegraded) {
  const CollectorResult missing = Collect();
  EXPECT_EQ(Gauge(missing, "caloria_restore_test_state_readable"), 0);
  EXPECT_EQ(missing.families.size(), 1u) << "nothing else is known";
  ASSERT_TRUE(missing.error.has_value());
  EXPECT_NE(missing.error->find(state_file_), std::string::npos) << *missing.error;
  EXPECT_EQ(missing.checks[0].status, HealthStatus::kDegraded);

  std::ofstream(state_file_) << "{\"version\": 1}";
  const CollectorResult corrupt = Collect();
  EXPECT_EQ(Gauge(corrupt, "caloria_restore_test_state_readable"), 0);
  ASSERT_TRUE(corrupt.error.has_value());
  EXPECT_NE(corrupt.error->find("last_run"), std::string::npos) << *corrupt.error;
}

TEST(RestoreTestCollectorSpec, WithoutAStateFileThereIsNothingToRead) {
  const CollectorRegistry registry({RestoreTestCollectorSpec()});
  Result<CollectorList> none = BuildCollectors(registry, {});
  ASSERT_TRUE(none) << none.error();
  EXPECT_TRUE(none->empty());

  Result<CollectorList> one =
      BuildCollectors(registry, {"--restore.state-file=state.json", "--restore.max-age=30d"});
  ASSERT_TRUE(one) << one.error();
  ASSERT_EQ(one->size(), 1u);
  const LogFields settings = one->front()->Settings();
  EXPECT_EQ(settings.front().second,
            (std::filesystem::current_path() / "state.json").lexically_normal().string());

  for (const std::string bad :
       {"--restore.state-file=", "--restore.max-age=0s", "--restore.max-age=soon"}) {
    Result<CollectorList> refused = BuildCollectors(registry, {bad});
    ASSERT_FALSE(refused) << bad;
    EXPECT_EQ(refused.error().find('\n'), std::string::npos) << refused.error();
  }
}

}  // namespace
}  // namespace caloria
