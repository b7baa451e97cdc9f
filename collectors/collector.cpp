#include "collectors/collector.h"

#include <utility>

namespace caloria {

prometheus::MetricFamily GaugeFamily(std::string name, std::string help) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Gauge;
  return family;
}

void AddGauge(prometheus::MetricFamily& family, double value,
              std::vector<prometheus::ClientMetric::Label> labels) {
  prometheus::ClientMetric metric;
  metric.label = std::move(labels);
  metric.gauge.value = value;
  family.metric.push_back(std::move(metric));
}

prometheus::MetricFamily SingleGauge(std::string name, std::string help, double value,
                                     std::vector<prometheus::ClientMetric::Label> labels) {
  auto family = GaugeFamily(std::move(name), std::move(help));
  AddGauge(family, value, std::move(labels));
  return family;
}

prometheus::MetricFamily SingleCounter(std::string name, std::string help, double value) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = prometheus::MetricType::Counter;
  family.metric.emplace_back();
  family.metric.back().counter.value = value;
  return family;
}

}  // namespace caloria
