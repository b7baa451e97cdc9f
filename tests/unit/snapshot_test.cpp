#include "poll/snapshot.h"

#include <gtest/gtest.h>

#include <algorithm>

namespace caloria {
namespace {

CollectorOutcome Outcome(const std::string& name, bool success, CollectorResult result = {}) {
  CollectorOutcome outcome;
  outcome.run.collector = name;
  outcome.run.success = success;
  outcome.run.duration_seconds = 0.25;
  if (success) outcome.run.last_success_unix = 1700000000;
  outcome.result = std::move(result);
  return outcome;
}

HealthCheck Check(const std::string& name, HealthStatus status) {
  HealthCheck check;
  check.name = name;
  check.status = status;
  return check;
}

const prometheus::MetricFamily* FindFamily(const Snapshot& snapshot, const std::string& name) {
  for (const auto& family : snapshot.families) {
    if (family.name == name) return &family;
  }
  return nullptr;
}

const BuildInfo kBuild{"1.2.3", "abc"};

TEST(Snapshot, OverallStatusIsTheWorstCheck) {
  CollectorResult db;
  db.checks.push_back(Check("database", HealthStatus::kDegraded));
  const Snapshot snapshot = AssembleSnapshot({Outcome("database", true, db)}, kBuild, {});
  EXPECT_EQ(snapshot.status, HealthStatus::kDegraded);

  db.checks[0].status = HealthStatus::kUnhealthy;
  EXPECT_EQ(AssembleSnapshot({Outcome("database", true, db)}, kBuild, {}).status,
            HealthStatus::kUnhealthy);
}

TEST(Snapshot, ConfigurationCheckIsAlwaysPresentAndHealthyWithoutProblems) {
  const Snapshot snapshot = AssembleSnapshot({}, kBuild, {});
  const HealthCheck* config = snapshot.FindCheck("configuration");
  ASSERT_NE(config, nullptr);
  EXPECT_EQ(config->status, HealthStatus::kHealthy);
  EXPECT_TRUE(config->details["problems"].empty());
  EXPECT_EQ(FindFamily(snapshot, "caloria_config_problem"), nullptr);
}

TEST(Snapshot, ProblemsFromAnyCollectorSetTheConfigurationStatus) {
  CollectorResult config;
  config.problems.push_back({"database_url_missing", "set it", HealthStatus::kDegraded});
  CollectorResult db;
  db.problems.push_back({"database_type_unexpected", "fix it", HealthStatus::kUnhealthy});
  const Snapshot snapshot = AssembleSnapshot(
      {Outcome("config", true, config), Outcome("database", true, db)}, kBuild, {});
  const HealthCheck* check = snapshot.FindCheck("configuration");
  ASSERT_NE(check, nullptr);
  EXPECT_EQ(check->status, HealthStatus::kUnhealthy);
  EXPECT_EQ(check->details["problems"].size(), 2u);
  EXPECT_EQ(snapshot.status, HealthStatus::kUnhealthy);

  const auto* family = FindFamily(snapshot, "caloria_config_problem");
  ASSERT_NE(family, nullptr);
  ASSERT_EQ(family->metric.size(), 2u);
  EXPECT_EQ(family->metric[0].label[0].value, "database_type_unexpected");
  EXPECT_EQ(family->metric[1].label[0].value, "database_url_missing");
}

TEST(Snapshot, TheSameProblemFromTwoCollectorsIsOneSeries) {
  CollectorResult a;
  a.problems.push_back({"users_query_failed", "x", HealthStatus::kDegraded});
  CollectorResult b = a;
  const Snapshot snapshot =
      AssembleSnapshot({Outcome("a", true, a), Outcome("b", true, b)}, kBuild, {});
  EXPECT_EQ(FindFamily(snapshot, "caloria_config_problem")->metric.size(), 1u);
}

TEST(Snapshot, ConfigurationDetailsFromTheConfigCollectorAreKept) {
  CollectorResult config;
  HealthCheck check = Check("configuration", HealthStatus::kHealthy);
  check.details["source"] = "env_file";
  config.checks.push_back(check);
  const Snapshot snapshot = AssembleSnapshot({Outcome("config", true, config)}, kBuild, {});
  EXPECT_EQ(snapshot.checks.size(), 1u);
  EXPECT_EQ(snapshot.FindCheck("configuration")->details["source"], "env_file");
}

TEST(Snapshot, ExporterMetricsDescribeEveryCollectorRun) {
  auto failed = Outcome("database", false);
  failed.run.error = "down";
  const Snapshot snapshot = AssembleSnapshot({Outcome("config", true), failed}, kBuild, {});
  const auto* success = FindFamily(snapshot, "caloria_exporter_collector_success");
  ASSERT_NE(success, nullptr);
  ASSERT_EQ(success->metric.size(), 2u);
  EXPECT_EQ(success->metric[0].gauge.value, 1);
  EXPECT_EQ(success->metric[1].gauge.value, 0);
  // A collector that never succeeded has no last-success sample rather than 0,
  // which would read as "succeeded in 1970".
  EXPECT_EQ(FindFamily(snapshot, "caloria_exporter_collector_last_success_timestamp_seconds")
                ->metric.size(),
            1u);
  const auto* build = FindFamily(snapshot, "caloria_exporter_build_info");
  ASSERT_NE(build, nullptr);
  EXPECT_EQ(build->metric[0].label[1].value, "1.2.3");
}

TEST(Snapshot, FamiliesAreSortedByName) {
  CollectorResult db;
  db.families.push_back(SingleGauge("caloria_z", "z", 1));
  db.families.push_back(SingleGauge("caloria_a", "a", 1));
  const Snapshot snapshot = AssembleSnapshot({Outcome("database", true, db)}, kBuild, {});
  EXPECT_TRUE(std::is_sorted(snapshot.families.begin(), snapshot.families.end(),
                             [](const auto& a, const auto& b) { return a.name < b.name; }));
}

}  // namespace
}  // namespace caloria
