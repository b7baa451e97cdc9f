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

}  // namespace

RenderedPage RenderLandingPage(const Snapshot& snapshot, const std::string& telemetry_path,
                               const std::string& version) {
  std::ostringstream html;
  html << "<!DOCTYPE html>\n<html>\n<head><meta charset=\"utf-8\"><title>Caloria Exporter</title>"
          "</head>\n<body>\n<h1>Caloria Exporter</h1>\n<p>Version "
       << EscapeHtml(version) << ". Status: <strong>" << HealthStatusName(snapshot.status)
       << "</strong> as of " << FormatIsoMicros(snapshot.taken_at) << ".</p>\n<ul>\n"
       << "<li><a href=\"" << EscapeHtml(telemetry_path) << "\">Metrics</a></li>\n"
       << "<li><a href=\"/health\">/health</a></li>\n";
  for (const auto& check : snapshot.checks) {
    html << "<li><a href=\"/health/" << EscapeHtml(check.name) << "\">/health/"
         << EscapeHtml(check.name) << "</a>: " << HealthStatusName(check.status) << "</li>\n";
  }
  html << "</ul>\n</body>\n</html>\n";
  return {200, "text/html; charset=utf-8", html.str()};
}

}  // namespace caloria
