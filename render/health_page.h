#pragma once

#include <string>
#include <vector>

#include "poll/snapshot.h"
#include "render/pages.h"

namespace caloria {

// HTTP status for a health status: 200 while the app can serve (healthy or
// degraded), 503 when it cannot, so curl -f, load balancers and blackbox
// probes need no JSON parsing.
int HttpStatusFor(HealthStatus status);

// GET /health: the overall status, one entry per check, the version.
RenderedPage RenderHealthPage(const Snapshot& snapshot, const std::string& version);

// GET /health/<check>, e.g. /health/database in the seed's format: the
// check's own details. A check the snapshot lacks renders as unhealthy.
RenderedPage RenderCheckPage(const Snapshot& snapshot, const std::string& check_name);

// GET /health with --config.file: the worst status of every target, and
// each target's status and the status of each of its checks; the details
// are on /health?target=NAME.
RenderedPage RenderFleetHealthPage(const std::vector<const Snapshot*>& snapshots,
                                   const std::string& version);

}  // namespace caloria
