#pragma once

#include <prometheus/metric_family.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/logger.h"
#include "core/problem.h"

namespace caloria {

// One entry of the health pages: "database", "configuration", ...
struct HealthCheck {
  std::string name;
  HealthStatus status = HealthStatus::kHealthy;
  nlohmann::ordered_json details = nlohmann::ordered_json::object();
};

// What one run of a collector found. A collector that could not reach its
// source still returns a result (e.g. caloria_database_up 0 and an unhealthy
// check) and sets `error`, which the poller logs and turns into
// caloria_exporter_collector_success 0.
struct CollectorResult {
  std::vector<prometheus::MetricFamily> families;
  std::vector<HealthCheck> checks;
  std::vector<Problem> problems;
  std::optional<std::string> error;
};

// The one interface every collector implements, as node_exporter's
// Collector.Update: the poller calls Collect() on its own thread with a
// deadline; a collector never touches HTTP.
class Collector {
 public:
  virtual ~Collector() = default;
  virtual std::string Name() const = 0;
  virtual CollectorResult Collect(const Deadline& deadline) = 0;
  // The settings it runs with, for the startup log; never a secret.
  virtual LogFields Settings() const { return {}; }
};

using CollectorList = std::vector<std::unique_ptr<Collector>>;

// A value for a health page, or JSON null where it could not be observed.
template <typename T>
nlohmann::ordered_json OrNull(const std::optional<T>& value) {
  return value ? nlohmann::ordered_json(*value) : nlohmann::ordered_json(nullptr);
}

// Small builders so collectors declare a family in one line.
prometheus::MetricFamily GaugeFamily(std::string name, std::string help);
void AddGauge(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels = {});
prometheus::MetricFamily SingleGauge(std::string name, std::string help, double value,
                                     std::vector<prometheus::ClientMetric::Label> labels = {});
// A counter family with one unlabelled sample; `name` ends in _total.
prometheus::MetricFamily SingleCounter(std::string name, std::string help, double value);

}  // namespace caloria
