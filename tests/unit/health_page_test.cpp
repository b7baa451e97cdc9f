#include "render/health_page.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "render/landing_page.h"

namespace caloria {
namespace {

Snapshot WithDatabase(HealthStatus status, int users) {
  CollectorOutcome outcome;
  outcome.run.collector = "database";
  outcome.run.success = true;
  HealthCheck check;
  check.name = "database";
  check.status = status;
  check.details["database"] = "POSTGRESQL";
  check.details["status"] = HealthStatusName(status);
  check.details["timestamp"] = "2025-07-24T20:28:53.144251+00:00";
  check.details["user_count"] = users;
  outcome.result.checks.push_back(check);
  return AssembleSnapshot({outcome}, {"0.1.0", "r"}, std::chrono::system_clock::now());
}

TEST(HealthPage, HttpStatusIs200UnlessUnhealthy) {
  EXPECT_EQ(HttpStatusFor(HealthStatus::kHealthy), 200);
  EXPECT_EQ(HttpStatusFor(HealthStatus::kDegraded), 200);
  EXPECT_EQ(HttpStatusFor(HealthStatus::kUnhealthy), 503);
}

TEST(HealthPage, DatabasePageHasTheSeedsKeysInItsOrder) {
  const RenderedPage page = RenderCheckPage(WithDatabase(HealthStatus::kHealthy, 3), "database");
  EXPECT_EQ(page.status_code, 200);
  EXPECT_EQ(page.content_type, "application/json");
  const auto body = nlohmann::ordered_json::parse(page.body);
  std::vector<std::string> keys;
  for (const auto& item : body.items()) keys.push_back(item.key());
  const std::vector<std::string> seed{"database", "status", "timestamp", "user_count"};
  ASSERT_GE(keys.size(), seed.size());
  EXPECT_EQ(std::vector<std::string>(keys.begin(), keys.begin() + 4), seed);
  EXPECT_EQ(body["database"], "POSTGRESQL");
  EXPECT_EQ(body["status"], "healthy");
  EXPECT_EQ(body["user_count"], 3);
}

TEST(HealthPage, UnhealthyDatabaseAnswers503) {
  const RenderedPage page = RenderCheckPage(WithDatabase(HealthStatus::kUnhealthy, 0), "database");
  EXPECT_EQ(page.status_code, 503);
  EXPECT_EQ(nlohmann::json::parse(page.body)["status"], "unhealthy");
}

TEST(HealthPage, MissingCheckRendersUnhealthyRatherThanEmpty) {
  const RenderedPage page = RenderCheckPage(AssembleSnapshot({}, {"0.1.0", "r"}, {}), "database");
  EXPECT_EQ(page.status_code, 503);
  const auto body = nlohmann::json::parse(page.body);
  EXPECT_EQ(body["status"], "unhealthy");
  EXPECT_TRUE(body.contains("error"));
}

TEST(HealthPage, OverallPageListsEveryCheckAndTheVersion) {
  const RenderedPage page = RenderHealthPage(WithDatabase(HealthStatus::kDegraded, 3), "9.9.9");
  EXPECT_EQ(page.status_code, 200);
  const auto body = nlohmann::json::parse(page.body);
  EXPECT_EQ(body["status"], "degraded");
  EXPECT_EQ(body["version"], "9.9.9");
  EXPECT_EQ(body["checks"]["database"]["status"], "degraded");
  EXPECT_EQ(body["checks"]["configuration"]["status"], "healthy");
  EXPECT_TRUE(body["timestamp"].is_string());
}

TEST(HealthPage, TimestampIsIsoWithMicrosecondsInUtc) {
  const auto page = RenderHealthPage(WithDatabase(HealthStatus::kHealthy, 1), "1");
  const std::string timestamp = nlohmann::json::parse(page.body)["timestamp"];
  // 2026-11-25T15:42:53.830375+00:00
  ASSERT_EQ(timestamp.size(), 32u);
  EXPECT_EQ(timestamp[10], 'T');
  EXPECT_EQ(timestamp[19], '.');
  EXPECT_EQ(timestamp.substr(26), "+00:00");
}

TEST(LandingPage, LinksEveryPageAndShowsTheStatus) {
  const auto page = RenderLandingPage(WithDatabase(HealthStatus::kHealthy, 3), "/m", "1.0");
  EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
  EXPECT_NE(page.body.find("href=\"/m\""), std::string::npos);
  EXPECT_NE(page.body.find("href=\"/health\""), std::string::npos);
  EXPECT_NE(page.body.find("href=\"/health/database\""), std::string::npos);
  EXPECT_NE(page.body.find("<strong>healthy</strong>"), std::string::npos);
}

TEST(LandingPage, EscapesTheTelemetryPath) {
  const auto page = RenderLandingPage(WithDatabase(HealthStatus::kHealthy, 3), "/m\"<x>", "1");
  EXPECT_EQ(page.body.find("<x>"), std::string::npos);
}

}  // namespace
}  // namespace caloria
