#include "render/pages.h"

#include <algorithm>

#include "poll/snapshot.h"
#include "render/health_page.h"
#include "render/landing_page.h"
#include "render/metrics_page.h"

namespace caloria {

Pages RenderPages(const Snapshot& snapshot, const std::string& telemetry_path,
                  const std::string& version) {
  Pages pages;
  pages.metrics = RenderMetricsPage(snapshot);
  pages.health = RenderHealthPage(snapshot, version);
  for (const auto& check : snapshot.checks) {
    pages.checks[check.name] = RenderCheckPage(snapshot, check.name);
  }
  pages.landing = RenderLandingPage(snapshot, telemetry_path, version);
  pages.taken_at = snapshot.taken_at;
  return pages;
}

std::shared_ptr<const Pages> PageRenderer::Render(const FleetSnapshot& fleet) {
  const bool one_unnamed = fleet.targets.size() == 1 && fleet.targets.front()->target.empty();
  if (one_unnamed) {
    cache_.clear();
    return std::make_shared<const Pages>(
        RenderPages(*fleet.targets.front(), telemetry_path_, version_));
  }
  std::map<std::string, Rendered> cache;
  auto pages = std::make_shared<Pages>();
  pages->taken_at = SystemTime::max();
  std::vector<const Snapshot*> snapshots;
  std::vector<const FleetMetricsPart*> metrics_parts;
  for (const auto& snapshot : fleet.targets) {
    Rendered& rendered = cache[snapshot->target];
    const auto cached = cache_.find(snapshot->target);
    if (cached != cache_.end() && cached->second.from == snapshot) {
      rendered = cached->second;
    } else {
      rendered = {snapshot,
                  std::make_shared<const Pages>(RenderPages(*snapshot, telemetry_path_, version_)),
                  std::make_shared<const FleetMetricsPart>(RenderFleetMetricsPart(*snapshot))};
    }
    pages->targets[snapshot->target] = rendered.pages;
    pages->taken_at = std::min(pages->taken_at, snapshot->taken_at);
    snapshots.push_back(snapshot.get());
    metrics_parts.push_back(rendered.metrics_part.get());
  }
  cache_ = std::move(cache);
  if (snapshots.empty()) pages->taken_at = std::chrono::system_clock::now();
  // Only the targets whose snapshot changed were serialized above; the fleet
  // page joins their text.
  pages->metrics = JoinFleetMetricsParts(metrics_parts);
  pages->health = RenderFleetHealthPage(snapshots, version_);
  pages->landing = RenderFleetLandingPage(snapshots, telemetry_path_, version_);
  return pages;
}

}  // namespace caloria
