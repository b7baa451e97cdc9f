#include "exporter/router.h"

namespace caloria {
namespace {

HttpResponse PlainText(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}, false};
}

bool IsKnownPath(const std::string& path, const std::string& telemetry_path) {
  return path == "/" || path == telemetry_path || path == "/health" || path == "/health/database" ||
         path == "/health/configuration";
}

}  // namespace

const RenderedPage* Router::Find(const std::string& path, const Pages& pages) const {
  if (path == telemetry_path_) return &pages.metrics;
  if (path == "/health") return &pages.health;
  if (path == "/health/database") return &pages.health_database;
  if (path == "/health/configuration") return &pages.health_configuration;
  if (path == "/") return &pages.landing;
  return nullptr;
}

HttpResponse Router::Route(const HttpRequest& request, const Pages* pages) const {
  if (!IsKnownPath(request.path, telemetry_path_)) {
    return PlainText(404, "404 page not found: see / for the pages this exporter serves\n");
  }
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse response = PlainText(405, "405 method not allowed: use GET\n");
    response.headers.emplace_back("Allow", "GET, HEAD");
    return response;
  }
  if (!pages) return PlainText(503, "503 the first collection has not finished yet\n");
  const RenderedPage* page = Find(request.path, *pages);
  HttpResponse response{page->status_code, page->content_type, page->body, {}, false};
  response.headers.emplace_back("Cache-Control", "no-store");
  response.head_only = request.method == "HEAD";
  return response;
}

}  // namespace caloria
