#include "poll/snapshot.h"

#include <algorithm>
#include <map>

namespace caloria {
namespace {

// Problems keyed by check, so two collectors reporting the same one export
// a single series.
std::map<std::string, Problem> CollectProblems(const std::vector<CollectorOutcome>& outcomes) {
  std::map<std::string, Problem> problems;
  for (const auto& outcome : outcomes) {
    for (const auto& problem : outcome.result.problems) problems.emplace(problem.check, problem);
  }
  return problems;
}

HealthCheck ConfigurationCheck(const std::vector<HealthCheck>& reported,
                               const std::map<std::string, Problem>& problems) {
  HealthCheck check;
  check.name = "configuration";
  for (const auto& existing : reported) {
    if (existing.name == check.name) check = existing;
  }
  auto list = nlohmann::ordered_json::array();
  for (const auto& [name, problem] : problems) {
    check.status = std::max(check.status, problem.severity);
    list.push_back({{"check", name},
                    {"severity", HealthStatusName(problem.severity)},
                    {"message", problem.message}});
  }
  nlohmann::ordered_json details;
  details["status"] = HealthStatusName(check.status);
  details["problems"] = std::move(list);
  for (const auto& [key, value] : check.details.items()) {
    if (key != "status" && key != "problems") details[key] = value;
  }
  check.details = std::move(details);
  return check;
}

void AddExporterFamilies(const std::vector<CollectorOutcome>& outcomes, const BuildInfo& build,
                         std::vector<prometheus::MetricFamily>& families) {
  families.push_back(SingleGauge(
      "caloria_exporter_build_info",
      "A metric with a constant '1' value labeled by the exporter's version and revision.", 1,
      {{"revision", build.revision}, {"version", build.version}}));
  auto success = GaugeFamily("caloria_exporter_collector_success",
                             "Whether the collector's last run succeeded (1) or failed (0).");
  auto duration = GaugeFamily("caloria_exporter_collector_duration_seconds",
                              "How long the collector's last run took.");
  auto last_success = GaugeFamily(
      "caloria_exporter_collector_last_success_timestamp_seconds",
      "When the collector last succeeded, in seconds since the epoch; absent until it has.");
  for (const auto& outcome : outcomes) {
    const std::vector<prometheus::ClientMetric::Label> label{{"collector", outcome.run.collector}};
    AddGauge(success, outcome.run.success ? 1 : 0, label);
    AddGauge(duration, outcome.run.duration_seconds, label);
    if (outcome.run.last_success_unix)
      AddGauge(last_success, *outcome.run.last_success_unix, label);
  }
  families.push_back(std::move(success));
  families.push_back(std::move(duration));
  if (!last_success.metric.empty()) families.push_back(std::move(last_success));
}

}  // namespace

const HealthCheck* Snapshot::FindCheck(const std::string& name) const {
  for (const auto& check : checks) {
    if (check.name == name) return &check;
  }
  return nullptr;
}

Snapshot AssembleSnapshot(const std::vector<CollectorOutcome>& outcomes, const BuildInfo& build,
                          SystemTime taken_at) {
  Snapshot snapshot;
  snapshot.taken_at = taken_at;
  std::vector<HealthCheck> reported;
  for (const auto& outcome : outcomes) {
    for (const auto& family : outcome.result.families) snapshot.families.push_back(family);
    for (const auto& check : outcome.result.checks) reported.push_back(check);
  }
  const auto problems = CollectProblems(outcomes);
  if (!problems.empty()) {
    auto family = GaugeFamily("caloria_config_problem",
                              "1 for each configuration problem found; see the configuration "
                              "check of /health for its fix.");
    for (const auto& [name, problem] : problems) AddGauge(family, 1, {{"check", name}});
    snapshot.families.push_back(std::move(family));
  }
  AddExporterFamilies(outcomes, build, snapshot.families);
  std::stable_sort(snapshot.families.begin(), snapshot.families.end(),
                   [](const auto& a, const auto& b) { return a.name < b.name; });

  for (auto& check : reported) {
    if (check.name != "configuration") snapshot.checks.push_back(std::move(check));
  }
  snapshot.checks.push_back(ConfigurationCheck(reported, problems));
  for (const auto& check : snapshot.checks)
    snapshot.status = std::max(snapshot.status, check.status);
  return snapshot;
}

}  // namespace caloria
