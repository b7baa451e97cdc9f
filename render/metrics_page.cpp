#include "render/metrics_page.h"

#include <prometheus/text_serializer.h>

#include <map>
#include <sstream>
#include <string_view>

namespace caloria {

namespace {

constexpr const char* kExpositionContentType = "text/plain; version=0.0.4; charset=utf-8";

RenderedPage Exposition(const std::vector<prometheus::MetricFamily>& families) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, families);
  return {200, kExpositionContentType, out.str()};
}

bool DescribesTheExporter(const std::string& family) {
  return family.rfind("process_", 0) == 0 || family == "caloria_exporter_build_info";
}

}  // namespace

RenderedPage RenderMetricsPage(const Snapshot& snapshot) { return Exposition(snapshot.families); }

FleetMetricsPart RenderFleetMetricsPart(const Snapshot& snapshot) {
  FleetMetricsPart part;
  for (const auto& family : snapshot.families) {
    const bool exporter_wide = DescribesTheExporter(family.name);
    prometheus::MetricFamily labelled = family;
    if (!exporter_wide) {
      for (auto& metric : labelled.metric) {
        metric.label.insert(metric.label.begin(), {"target", snapshot.target});
      }
    }
    std::ostringstream out;
    prometheus::TextSerializer().Serialize(out, {labelled});
    std::string text = out.str();
    // The header is the leading comment lines; a sample line never starts
    // with '#'.
    std::size_t split = 0;
    while (split < text.size() && text[split] == '#') {
      const std::size_t newline = text.find('\n', split);
      split = newline == std::string::npos ? text.size() : newline + 1;
    }
    FleetMetricsPart::Family& entry = part.families[family.name];
    if (entry.header.empty()) entry.header = text.substr(0, split);
    entry.samples += text.substr(split);
    entry.exporter_wide = exporter_wide;
  }
  return part;
}

RenderedPage JoinFleetMetricsParts(const std::vector<const FleetMetricsPart*>& parts) {
  // Each family's entries, target by target.
  std::map<std::string_view, std::vector<const FleetMetricsPart::Family*>> by_name;
  std::size_t size = 0;
  for (const FleetMetricsPart* part : parts) {
    for (const auto& [name, family] : part->families) {
      if (family.exporter_wide && part != parts.front()) continue;
      by_name[name].push_back(&family);
      size += family.header.size() + family.samples.size();
    }
  }
  std::string body;
  body.reserve(size);
  for (const auto& [name, families] : by_name) {
    body += families.front()->header;
    for (const auto* family : families) body += family->samples;
  }
  return {200, kExpositionContentType, std::move(body)};
}

RenderedPage RenderFleetMetricsPage(const std::vector<const Snapshot*>& snapshots) {
  std::vector<FleetMetricsPart> parts;
  parts.reserve(snapshots.size());
  for (const Snapshot* snapshot : snapshots) parts.push_back(RenderFleetMetricsPart(*snapshot));
  std::vector<const FleetMetricsPart*> pointers;
  pointers.reserve(parts.size());
  for (const auto& part : parts) pointers.push_back(&part);
  return JoinFleetMetricsParts(pointers);
}

}  // namespace caloria
