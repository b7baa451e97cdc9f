#pragma once

#include <prometheus/metric_family.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "core/clock.h"

namespace caloria {

// How one collector's latest run went; the poller keeps these across runs.
struct CollectorRun {
  std::string collector;
  bool success = false;
  double duration_seconds = 0;
  std::optional<double> last_success_unix;  // seconds since the epoch
  std::optional<std::string> error;
};

struct CollectorOutcome {
  CollectorRun run;
  CollectorResult result;
};

// Everything one poll found, complete and immutable once assembled: the
// renderers read it and nothing else.
struct Snapshot {
  std::string target;  // "" for the one target the flags describe
  SystemTime taken_at;
  std::vector<prometheus::MetricFamily> families;  // sorted by name
  std::vector<HealthCheck> checks;                 // "configuration" always present
  HealthStatus status = HealthStatus::kHealthy;    // the worst check's

  const HealthCheck* FindCheck(const std::string& name) const;
};

// The latest snapshot of every target, in the order of the target list.
struct FleetSnapshot {
  std::vector<std::shared_ptr<const Snapshot>> targets;
};

struct BuildInfo {
  std::string version;
  std::string revision;
};

// Merges the collectors' outcomes with the exporter's own metrics
// (build_info, per-collector success/duration/last success) and derives
// caloria_config_problem and the configuration check from every problem
// any collector reported.
Snapshot AssembleSnapshot(const std::vector<CollectorOutcome>& outcomes, const BuildInfo& build,
                          SystemTime taken_at);

}  // namespace caloria
