#pragma once

#include <string>
#include <vector>

#include "poll/snapshot.h"
#include "render/pages.h"

namespace caloria {

// GET /: a small HTML page, as every Prometheus exporter has, linking the
// metrics and health pages and showing the current status of each check.
RenderedPage RenderLandingPage(const Snapshot& snapshot, const std::string& telemetry_path,
                               const std::string& version);

// GET / with --config.file: the same, one line per target with its status
// and its /probe and /health links.
RenderedPage RenderFleetLandingPage(const std::vector<const Snapshot*>& snapshots,
                                    const std::string& telemetry_path, const std::string& version);

}  // namespace caloria
