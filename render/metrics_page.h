#pragma once

#include "poll/snapshot.h"
#include "render/pages.h"

namespace caloria {

// The Prometheus text exposition format (0.0.4) of the snapshot, written by
// prometheus-cpp's TextSerializer.
RenderedPage RenderMetricsPage(const Snapshot& snapshot);

}  // namespace caloria
