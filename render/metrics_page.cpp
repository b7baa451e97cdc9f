#include "render/metrics_page.h"

#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>

namespace caloria {

namespace {

RenderedPage Exposition(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return {200, "text/plain; version=0.0.4; charset=utf-8", out.str()};
}

bool DescribesTheExporter(const std::string& family) {
  return family.rfind("process_", 0) == 0 || family == "caloria_exporter_build_info";
}

}  // namespace

RenderedPage RenderMetricsPage(const Snapshot& snapshot) { return Exposition(snapshot.families); }

RenderedPage RenderFleetMetricsPage(const std::vector<const Snapshot*>& snapshots) {
  std::map<std::string, prometheus::MetricFamily> merged;
  bool first = true;
  for (const Snapshot* snapshot : snapshots) {
    for (const auto& family : snapshot->families) {
      const bool exporter_wide = DescribesTheExporter(family.name);
      if (exporter_wide && !first) continue;
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
    first = false;
  }
  std::vector<prometheus::MetricFamily> families;
  families.reserve(merged.size());
  for (auto& [name, family] : merged) families.push_back(std::move(family));
  return Exposition(families);
}

}  // namespace caloria
