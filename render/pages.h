#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>

namespace caloria {

// A response body rendered once per poll, so a request only copies a string.
struct RenderedPage {
  int status_code = 200;
  std::string content_type;
  std::string body;
};

// Every page the HTTP server serves, rendered from one snapshot.
struct Pages {
  std::chrono::system_clock::time_point taken_at;  // when the poll behind them ran
  RenderedPage metrics;
  RenderedPage health;
  std::map<std::string, RenderedPage> checks;  // /health/<name>: database, backup, ...
  RenderedPage landing;
  // With --config.file, each target's own pages by name: its metrics
  // without the target label (/probe?target=NAME), its /health and checks
  // (?target=NAME). Then `metrics` holds every target's, labelled, `health`
  // the worst of them, and `checks` is empty. Empty for the one target the
  // flags describe.
  std::map<std::string, std::shared_ptr<const Pages>> targets;
};

struct Snapshot;
struct FleetSnapshot;
struct FleetMetricsPart;

// Renders every page from one target's snapshot: called once per poll, so a
// request only copies a string.
Pages RenderPages(const Snapshot& snapshot, const std::string& telemetry_path,
                  const std::string& version);

// Renders the pages of every target each time a target's poll ends, keeping
// the pages of the targets whose snapshot has not changed. Not for two
// threads at once: the poller publishes one snapshot set at a time.
class PageRenderer {
 public:
  PageRenderer(std::string telemetry_path, std::string version)
      : telemetry_path_(std::move(telemetry_path)), version_(std::move(version)) {}

  std::shared_ptr<const Pages> Render(const FleetSnapshot& fleet);

 private:
  struct Rendered {
    std::shared_ptr<const Snapshot> from;
    std::shared_ptr<const Pages> pages;
    std::shared_ptr<const FleetMetricsPart> metrics_part;  // its share of the fleet's /metrics
  };
  std::string telemetry_path_;
  std::string version_;
  std::map<std::string, Rendered> cache_;
};

}  // namespace caloria
