#include "render/landing_page.h"

#include <sstream>

namespace caloria {
namespace {

std::string EscapeHtml(const std::string& text) {
  std::string out;
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string Head(const std::string& version) {
  return "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Caloria Exporter</title>"
         "</head>\n<body>\n<h1>Caloria Exporter</h1>\n<p>Version " +
         EscapeHtml(version) + ". ";
}

constexpr const char* kTail = "</ul>\n</body>\n</html>\n";
constexpr const char* kHtml = "text/html; charset=utf-8";

}  // namespace

RenderedPage RenderLandingPage(const Snapshot& snapshot, const std::string& telemetry_path,
                               const std::string& version) {
  std::ostringstream html;
  html << Head(version) << "Status: <strong>" << HealthStatusName(snapshot.status)
       << "</strong> as of " << FormatIsoMicros(snapshot.taken_at) << ".</p>\n<ul>\n"
       << "<li><a href=\"" << EscapeHtml(telemetry_path) << "\">Metrics</a></li>\n"
       << "<li><a href=\"/health\">/health</a></li>\n";
  for (const auto& check : snapshot.checks) {
    html << "<li><a href=\"/health/" << EscapeHtml(check.name) << "\">/health/"
         << EscapeHtml(check.name) << "</a>: " << HealthStatusName(check.status) << "</li>\n";
  }
  html << kTail;
  return {200, kHtml, html.str()};
}

RenderedPage RenderFleetLandingPage(const std::vector<const Snapshot*>& snapshots,
                                    const std::string& telemetry_path, const std::string& version) {
  std::ostringstream html;
  html << Head(version) << snapshots.size() << " targets.</p>\n<ul>\n"
       << "<li><a href=\"" << EscapeHtml(telemetry_path) << "\">Metrics</a> of every target</li>\n"
       << "<li><a href=\"/health\">/health</a> of every target</li>\n";
  for (const Snapshot* snapshot : snapshots) {
    // Target names are [A-Za-z0-9_.-]: nothing to encode in a query.
    const std::string name = EscapeHtml(snapshot->target);
    html << "<li>" << name << ": <strong>" << HealthStatusName(snapshot->status)
         << "</strong> as of " << FormatIsoMicros(snapshot->taken_at)
         << " (<a href=\"/probe?target=" << name
         << "\">metrics</a>, <a href=\"/health?target=" << name << "\">/health</a>)</li>\n";
  }
  html << kTail;
  return {200, kHtml, html.str()};
}

}  // namespace caloria
