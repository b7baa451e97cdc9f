#include "http/router.h"

namespace caloria {
namespace {

HttpResponse PlainText(int status, std::string body) {
  return {status, "text/plain; charset=utf-8", std::move(body), {}, false};
}

constexpr const char* kCheckPrefix = "/health/";
constexpr const char* kReloadPath = "/-/reload";

}  // namespace

const RenderedPage* Router::Find(const std::string& path, const Pages& pages) const {
  if (path == telemetry_path_) return &pages.metrics;
  if (path == "/health") return &pages.health;
  if (path == "/") return &pages.landing;
  if (path.rfind(kCheckPrefix, 0) == 0) {
    const auto check = pages.checks.find(path.substr(std::string(kCheckPrefix).size()));
    if (check != pages.checks.end()) return &check->second;
  }
  return nullptr;
}

// A reload changes state, so only POST may trigger it: a crawler or a
// prefetching browser following a link must not.
HttpResponse Router::Reload(const HttpRequest& request) const {
  if (request.method != "POST") {
    HttpResponse response = PlainText(405, "405 method not allowed: use POST to reload\n");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  const Status reloaded = reload_();
  if (!reloaded) {
    return PlainText(500, "failed to reload the configuration, the previous one is kept: " +
                              reloaded.error() + "\n");
  }
  return PlainText(200, "configuration reloaded\n");
}

HttpResponse Router::Route(const HttpRequest& request, const Pages* pages,
                           std::chrono::system_clock::time_point now) const {
  static const Pages kNoPages;
  if (reload_ && request.path == kReloadPath) return Reload(request);
  // Before the first poll only the fixed paths are known; a check page is
  // known once the collector that owns it has reported.
  const bool fixed =
      request.path == "/" || request.path == telemetry_path_ || request.path == "/health";
  if (!fixed && !Find(request.path, pages ? *pages : kNoPages)) {
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
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - pages->taken_at);
  if (request.path.rfind("/health", 0) == 0 && age > stale_after_) {
    response.status_code = 503;
    response.content_type = "application/json";
    response.body = "{\n  \"status\": \"unhealthy\",\n  \"error\": \"the last poll finished " +
                    std::to_string(age.count()) +
                    "s ago: the exporter's poller is stuck; see its log and restart it\"\n}\n";
  }
  response.headers.emplace_back("Cache-Control", "no-store");
  if (request.path == "/") {
    // The landing page is plain links: no script, style, frame or form.
    response.headers.emplace_back("Content-Security-Policy",
                                  "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; "
                                  "form-action 'none'");
  }
  response.head_only = request.method == "HEAD";
  return response;
}

}  // namespace caloria
