#include "collectors/consistency_collector.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

AppView OnSqlite() { return {DatabaseType::kSqlite, "its health page says SQLITE", 5.0}; }
AppView OnPostgres(double users = 5) {
  return {DatabaseType::kPostgresql, "its health page says POSTGRESQL", users};
}

ConsistencyFacts PostgresApp() {
  ConsistencyFacts facts;
  facts.configured_type = DatabaseType::kPostgresql;
  facts.expected_type = ExpectedType::kPostgresql;
  facts.database_users = 5;
  return facts;
}

bool Has(const ConsistencyVerdict& verdict, const std::string& check) {
  for (const auto& problem : verdict.problems) {
    if (problem.check == check) return true;
  }
  return false;
}

TEST(JudgeConsistency, NothingToCompareIsHealthy) {
  const ConsistencyVerdict verdict = JudgeConsistency(PostgresApp());
  EXPECT_EQ(verdict.status, HealthStatus::kHealthy);
  EXPECT_TRUE(verdict.problems.empty());
}

TEST(JudgeConsistency, AnAppOnItsConfiguredDatabaseIsHealthy) {
  ConsistencyFacts facts = PostgresApp();
  facts.probe = OnPostgres();
  facts.process = AppView{DatabaseType::kPostgresql, "it holds 2 connections to port 5432", {}};
  facts.fallback = FallbackView{"/srv/app/instance/caloria.db", false, false, {}};
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
}

// The seed's incident: the .env says PostgreSQL, the app runs on SQLite.
TEST(JudgeConsistency, AnAppOnSqliteWhileThePostgresqlIsConfiguredIsUnhealthy) {
  for (const ExpectedType expected : {ExpectedType::kPostgresql, ExpectedType::kAny}) {
    ConsistencyFacts facts = PostgresApp();
    facts.expected_type = expected;
    facts.probe = OnSqlite();
    const ConsistencyVerdict verdict = JudgeConsistency(facts);
    EXPECT_EQ(verdict.status, HealthStatus::kUnhealthy);
    ASSERT_TRUE(Has(verdict, "app_database_unexpected"));
    EXPECT_NE(verdict.problems[0].message.find("its health page says SQLITE"), std::string::npos)
        << verdict.problems[0].message;
  }
}

TEST(JudgeConsistency, TheProcessViewAloneIsEnough) {
  ConsistencyFacts facts = PostgresApp();
  facts.process = AppView{DatabaseType::kSqlite, "it holds instance/caloria.db open", {}};
  const ConsistencyVerdict verdict = JudgeConsistency(facts);
  EXPECT_EQ(verdict.status, HealthStatus::kUnhealthy);
  EXPECT_TRUE(Has(verdict, "app_database_unexpected"));
}

TEST(JudgeConsistency, BothSourcesDisagreeingGiveOneProblem) {
  ConsistencyFacts facts = PostgresApp();
  facts.probe = OnSqlite();
  facts.process = AppView{DatabaseType::kSqlite, "it holds instance/caloria.db open", {}};
  const ConsistencyVerdict verdict = JudgeConsistency(facts);
  EXPECT_EQ(verdict.problems.size(), 1u);
  EXPECT_EQ(verdict.reasons.size(), 2u);
}

TEST(JudgeConsistency, AnUnknownTypeSaysNothing) {
  ConsistencyFacts facts = PostgresApp();
  facts.process = AppView{std::nullopt, "no DATABASE_URL in its environment", {}};
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
}

TEST(JudgeConsistency, ASqliteAppExpectedToBeSqliteIsHealthy) {
  ConsistencyFacts facts;
  facts.configured_type = DatabaseType::kSqlite;
  facts.expected_type = ExpectedType::kAny;
  facts.probe = AppView{DatabaseType::kSqlite, "its health page says SQLITE", 3.0};
  facts.database_users = 3;
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
}

TEST(JudgeConsistency, TheFallbackFileBeingWrittenIsUnhealthy) {
  ConsistencyFacts facts = PostgresApp();
  facts.fallback = FallbackView{"/srv/app/instance/caloria.db", true, true, 7.0};
  const ConsistencyVerdict verdict = JudgeConsistency(facts);
  EXPECT_EQ(verdict.status, HealthStatus::kUnhealthy);
  // The fallback_sqlite collector reports the problem itself; one name, one source.
  EXPECT_FALSE(Has(verdict, "fallback_sqlite_written"));
  ASSERT_EQ(verdict.reasons.size(), 1u);
  EXPECT_NE(verdict.reasons[0].find("/srv/app/instance/caloria.db"), std::string::npos);
}

TEST(JudgeConsistency, AnOldFallbackFileIsNoFinding) {
  ConsistencyFacts facts = PostgresApp();
  facts.fallback = FallbackView{"/srv/app/instance/caloria.db", true, false, 7.0};
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
}

TEST(JudgeConsistency, UserCountsApartBeyondTheToleranceAreDegraded) {
  ConsistencyFacts facts = PostgresApp();
  facts.probe = OnPostgres(9);
  facts.users_tolerance = 3;
  ConsistencyVerdict verdict = JudgeConsistency(facts);
  EXPECT_EQ(verdict.status, HealthStatus::kDegraded);
  EXPECT_TRUE(Has(verdict, "app_users_differ"));
  facts.users_tolerance = 4;
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
  facts.database_users.reset();  // the database is down: nothing to compare
  facts.users_tolerance = 0;
  EXPECT_EQ(JudgeConsistency(facts).status, HealthStatus::kHealthy);
}

}  // namespace
}  // namespace caloria
