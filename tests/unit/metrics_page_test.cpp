#include "render/metrics_page.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>
#include <string>
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

// The fleet page as it was first written: every target's families merged
// and serialized in one go. The parts, serialized one target at a time and
// joined, must give the same text byte for byte.
std::string MergedAndSerialized(const std::vector<const Snapshot*>& snapshots) {
  std::map<std::string, prometheus::MetricFamily> merged;
  for (const Snapshot* snapshot : snapshots) {
    for (const auto& family : snapshot->families) {
      const bool exporter_wide =
          family.name.rfind("process_", 0) == 0 || family.name == "caloria_exporter_build_info";
      if (exporter_wide && snapshot != snapshots.front()) continue;
      auto [it, inserted] = merged.try_emplace(family.name);
      if (inserted) {
        it->second.name = family.name;
        it->second.help = family.help;
        it->second.type = family.type;
      }
      for (prometheus::ClientMetric metric : family.metric) {
        if (!exporter_wide) metric.label.insert(metric.label.begin(), {"target", snapshot->target});
        it->second.metric.push_back(std::move(metric));
      }
    }
  }
  std::vector<prometheus::MetricFamily> families;
  for (auto& [name, family] : merged) families.push_back(std::move(family));
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return out.str();
}

TEST(MetricsPage, TheJoinedPartsAreTheMergedFleetPage) {
  std::vector<Snapshot> snapshots;
  for (int i = 0; i < 3; ++i) {
    CollectorOutcome database;
    database.run.collector = "database";
    database.run.success = i != 1;
    database.result.families.push_back(SingleGauge("caloria_database_users", "Users.", i));
    if (i == 2) {  // a family only the last target has, and one without help
      database.result.families.push_back(SingleGauge("caloria_only_here", "", 1, {{"a", "b"}}));
    }
    auto stats = GaugeFamily("caloria_postgres_connections", "By state.");
    AddGauge(stats, i, {{"state", "idle"}});
    AddGauge(stats, i + 1, {{"state", "active"}});
    database.result.families.push_back(std::move(stats));
    database.result.families.push_back(SingleGauge("process_open_fds", "Open fds.", 7 + i));
    database.result.families.push_back(SingleCounter("caloria_example_total", "Counted.", i));
    Snapshot snapshot = AssembleSnapshot({database}, {"0.1.0", "r"}, {});
    snapshot.target = "target" + std::to_string(i);
    snapshots.push_back(std::move(snapshot));
  }
  const std::vector<const Snapshot*> all = {&snapshots[0], &snapshots[1], &snapshots[2]};
  EXPECT_EQ(RenderFleetMetricsPage(all).body, MergedAndSerialized(all));
  const std::vector<const Snapshot*> reversed = {&snapshots[2], &snapshots[0]};
  EXPECT_EQ(RenderFleetMetricsPage(reversed).body, MergedAndSerialized(reversed));
  EXPECT_EQ(RenderFleetMetricsPage(std::vector<const Snapshot*>{}).body, "");
}

}  // namespace
}  // namespace caloria
