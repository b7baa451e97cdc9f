#include "render/metrics_page.h"

#include <gtest/gtest.h>

#include <utility>
#include <vector>

namespace caloria {
namespace {

TEST(MetricsPage, WritesTheTextExpositionFormat) {
  CollectorOutcome outcome;
  outcome.run.collector = "database";
  outcome.run.success = true;
  outcome.result.families.push_back(SingleGauge("caloria_database_users", "Users.", 3));
  outcome.result.families.push_back(SingleGauge(
      "caloria_database_info", "Info.", 1, {{"server_version", "15.18"}, {"type", "postgresql"}}));
  const auto page = RenderMetricsPage(AssembleSnapshot({outcome}, {"0.1.0", "r"}, {}));
  EXPECT_EQ(page.status_code, 200);
  EXPECT_EQ(page.content_type, "text/plain; version=0.0.4; charset=utf-8");
  EXPECT_NE(page.body.find("# HELP caloria_database_users Users.\n"
                           "# TYPE caloria_database_users gauge\n"
                           "caloria_database_users 3\n"),
            std::string::npos);
  EXPECT_NE(
      page.body.find("caloria_database_info{server_version=\"15.18\",type=\"postgresql\"} 1\n"),
      std::string::npos);
  EXPECT_NE(page.body.find("caloria_exporter_collector_success{collector=\"database\"} 1\n"),
            std::string::npos);
}

TEST(MetricsPage, EscapesLabelValues) {
  CollectorOutcome outcome;
  outcome.run.collector = "config";
  outcome.result.problems.push_back({"quote\"and\\slash\nnewline", "m", HealthStatus::kDegraded});
  const auto page = RenderMetricsPage(AssembleSnapshot({outcome}, {"0.1.0", "r"}, {}));
  EXPECT_NE(page.body.find(R"(caloria_config_problem{check="quote\"and\\slash\nnewline"} 1)"),
            std::string::npos);
}

TEST(MetricsPage, ManyTargetsShareFamiliesEachSampleLabelledWithItsTarget) {
  std::vector<Snapshot> snapshots;
  for (const auto& [name, users] : {std::pair{"alpha", 3}, std::pair{"beta", 5}}) {
    CollectorOutcome outcome;
    outcome.run.collector = "database";
    outcome.run.success = true;
    outcome.result.families.push_back(SingleGauge("caloria_database_users", "Users.", users));
    outcome.result.families.push_back(SingleGauge("process_open_fds", "Open fds.", 7));
    Snapshot snapshot = AssembleSnapshot({outcome}, {"0.1.0", "r"}, {});
    snapshot.target = name;
    snapshots.push_back(std::move(snapshot));
  }
  const auto page = RenderFleetMetricsPage({&snapshots[0], &snapshots[1]});
  EXPECT_NE(page.body.find("# TYPE caloria_database_users gauge\n"
                           "caloria_database_users{target=\"alpha\"} 3\n"
                           "caloria_database_users{target=\"beta\"} 5\n"),
            std::string::npos)
      << page.body;
  EXPECT_NE(page.body.find(
                "caloria_exporter_collector_success{target=\"beta\",collector=\"database\"} 1"),
            std::string::npos);
  // The exporter's own process and build: once, unlabelled.
  EXPECT_NE(page.body.find("\nprocess_open_fds 7\n"), std::string::npos);
  EXPECT_EQ(page.body.find("process_open_fds{"), std::string::npos);
  EXPECT_EQ(page.body.find("# TYPE caloria_database_users",
                           page.body.find("# TYPE caloria_database_users") + 1),
            std::string::npos)
      << "one HELP and TYPE per family";
  EXPECT_NE(page.body.find("caloria_exporter_build_info{revision=\"r\",version=\"0.1.0\"} 1"),
            std::string::npos);
}

}  // namespace
}  // namespace caloria
