#pragma once

#include <chrono>
#include <map>
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
};

struct Snapshot;

// Renders every page from one snapshot: called once per poll, so a request
// only copies a string.
Pages RenderPages(const Snapshot& snapshot, const std::string& telemetry_path,
                  const std::string& version);

}  // namespace caloria
