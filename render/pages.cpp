#include "render/pages.h"

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

}  // namespace caloria
