#include "render/health_page.h"

#include <algorithm>
#include <nlohmann/json.hpp>

namespace caloria {
namespace {

constexpr const char* kJson = "application/json";

std::string Dump(const nlohmann::ordered_json& body) {
  // Indented like Flask's jsonify in debug mode: these pages are read by
  // people running curl as much as by machines.
  return body.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

}  // namespace

int HttpStatusFor(HealthStatus status) { return status == HealthStatus::kUnhealthy ? 503 : 200; }

RenderedPage RenderHealthPage(const Snapshot& snapshot, const std::string& version) {
  nlohmann::ordered_json body;
  body["status"] = HealthStatusName(snapshot.status);
  body["version"] = version;
  body["timestamp"] = FormatIsoMicros(snapshot.taken_at);
  auto& checks = body["checks"] = nlohmann::ordered_json::object();
  for (const auto& check : snapshot.checks) {
    nlohmann::ordered_json entry = check.details;
    entry["status"] = HealthStatusName(check.status);
    checks[check.name] = std::move(entry);
  }
  return {HttpStatusFor(snapshot.status), kJson, Dump(body)};
}

RenderedPage RenderCheckPage(const Snapshot& snapshot, const std::string& check_name) {
  const HealthCheck* check = snapshot.FindCheck(check_name);
  if (!check) {
    nlohmann::ordered_json body;
    body["status"] = HealthStatusName(HealthStatus::kUnhealthy);
    body["timestamp"] = FormatIsoMicros(snapshot.taken_at);
    body["error"] = "no " + check_name + " check has run yet";
    return {HttpStatusFor(HealthStatus::kUnhealthy), kJson, Dump(body)};
  }
  nlohmann::ordered_json body = check->details;
  body["status"] = HealthStatusName(check->status);
  return {HttpStatusFor(check->status), kJson, Dump(body)};
}

RenderedPage RenderFleetHealthPage(const std::vector<const Snapshot*>& snapshots,
                                   const std::string& version) {
  HealthStatus worst = HealthStatus::kHealthy;
  SystemTime oldest = SystemTime::max();
  auto targets = nlohmann::ordered_json::object();
  for (const Snapshot* snapshot : snapshots) {
    worst = std::max(worst, snapshot->status);
    oldest = std::min(oldest, snapshot->taken_at);
    nlohmann::ordered_json entry;
    entry["status"] = HealthStatusName(snapshot->status);
    entry["timestamp"] = FormatIsoMicros(snapshot->taken_at);
    auto& checks = entry["checks"] = nlohmann::ordered_json::object();
    for (const auto& check : snapshot->checks) checks[check.name] = HealthStatusName(check.status);
    targets[snapshot->target] = std::move(entry);
  }
  nlohmann::ordered_json body;
  body["status"] = HealthStatusName(worst);
  body["version"] = version;
  if (!snapshots.empty()) body["timestamp"] = FormatIsoMicros(oldest);
  body["targets"] = std::move(targets);
  return {HttpStatusFor(worst), kJson, Dump(body)};
}

}  // namespace caloria
