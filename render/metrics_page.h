#pragma once

#include <map>
#include <string>
#include <vector>

#include "poll/snapshot.h"
#include "render/pages.h"

namespace caloria {

// The Prometheus text exposition format (0.0.4) of the snapshot, written by
// prometheus-cpp's TextSerializer.
RenderedPage RenderMetricsPage(const Snapshot& snapshot);

// One target's part of the fleet's /metrics: each family's HELP and TYPE
// lines and its samples labelled target="NAME" (the exporter's own process_*
// metrics and build_info unlabelled: they describe the one process, not a
// target). Serialized once per snapshot of that target, so that the fleet
// page, rebuilt after every target's poll, only concatenates text: with N
// targets it was N serializations per poll, N² per interval.
struct FleetMetricsPart {
  struct Family {
    std::string header;   // "# HELP ...\n# TYPE ...\n"
    std::string samples;  // the sample lines
    bool exporter_wide = false;
  };
  std::map<std::string, Family> families;  // by name, the page's order
};
FleetMetricsPart RenderFleetMetricsPart(const Snapshot& snapshot);

// Every target's families in one exposition, in family-name order, each
// family's header once (from the first target that has the family) and its
// samples target by target; the exporter-wide families from the first part
// only.
RenderedPage JoinFleetMetricsParts(const std::vector<const FleetMetricsPart*>& parts);
RenderedPage RenderFleetMetricsPage(const std::vector<const Snapshot*>& snapshots);

}  // namespace caloria
