#pragma once

#include <vector>

#include "poll/snapshot.h"
#include "render/pages.h"

namespace caloria {

// The Prometheus text exposition format (0.0.4) of the snapshot, written by
// prometheus-cpp's TextSerializer.
RenderedPage RenderMetricsPage(const Snapshot& snapshot);

// Every target's families in one exposition, each sample labelled with its
// target="NAME". The exporter's own process_* metrics and its build_info
// describe the one process, not a target: they appear once, unlabelled.
RenderedPage RenderFleetMetricsPage(const std::vector<const Snapshot*>& snapshots);

}  // namespace caloria
