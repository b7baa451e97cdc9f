#include "http/router.h"

#include <algorithm>
#include <string_view>

#include "config/targets_file.h"

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

namespace {

constexpr const char* kProbePath = "/probe";

struct TargetParameter {
  bool given = false;
  std::string value;
  int count = 0;
};

// The target= parameters of a query (others are ignored, as Prometheus may
// add its own). Not decoded: a target name never needs encoding, so a '%'
// is refused with the rest of what is not a name.
TargetParameter FindTarget(const std::string& query) {
  TargetParameter found;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string_view pair(query.data() + start, end - start);
    if (pair.substr(0, 7) == "target=" || pair == "target") {
      found.given = true;
      ++found.count;
      found.value = std::string(pair.substr(std::min<std::size_t>(7, pair.size())));
    }
    start = end + 1;
  }
  return found;
}

HttpResponse MethodNotAllowed() {
  HttpResponse response = PlainText(405, "405 method not allowed: use GET\n");
  response.headers.emplace_back("Allow", "GET, HEAD");
  return response;
}

bool Readable(const HttpRequest& request) {
  return request.method == "GET" || request.method == "HEAD";
}

}  // namespace

HttpResponse Router::Serve(const HttpRequest& request, const RenderedPage& page,
                           std::chrono::system_clock::time_point taken_at,
                           std::chrono::system_clock::time_point now) const {
  HttpResponse response{page.status_code, page.content_type, page.body, {}, false};
  const auto age = std::chrono::duration_cast<std::chrono::seconds>(now - taken_at);
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

// /probe and the health pages of one target of --config.file.
HttpResponse Router::RouteTarget(const HttpRequest& request, const std::string& target,
                                 const Pages* pages,
                                 std::chrono::system_clock::time_point now) const {
  if (!IsTargetName(target)) {
    return PlainText(400,
                     "400 bad request: target must be the name of a target in --config.file "
                     "(letters, digits, '_', '-', '.'), never a URL, a host or a path: see / for "
                     "the targets\n");
  }
  if (!Readable(request)) return MethodNotAllowed();
  if (!pages) return PlainText(503, "503 the first collection has not finished yet\n");
  if (pages->targets.empty()) {
    return PlainText(404, "404 this exporter has no targets: ?target= needs --config.file\n");
  }
  const auto found = pages->targets.find(target);
  if (found == pages->targets.end()) {
    return PlainText(404, "404 unknown target " + target +
                              ": only the targets in --config.file are served; see / for them\n");
  }
  const Pages& own = *found->second;
  // Route sends only /probe and the health pages here: past /probe, Find
  // reads the target's own /health and check pages as it reads the others.
  const RenderedPage* page = request.path == kProbePath ? &own.metrics : Find(request.path, own);
  if (!page) {
    return PlainText(404,
                     "404 page not found: ?target= goes with /probe, /health and "
                     "/health/CHECK\n");
  }
  return Serve(request, *page, own.taken_at, now);
}

HttpResponse Router::Route(const HttpRequest& request, const Pages* pages,
                           std::chrono::system_clock::time_point now) const {
  static const Pages kNoPages;
  if (reload_ && request.path == kReloadPath) return Reload(request);
  // Only /probe and the health pages take a target; elsewhere (/metrics
  // scraped with params by a relabeling mistake) the query is ignored.
  const bool takes_target = request.path == kProbePath || request.path.rfind("/health", 0) == 0;
  const TargetParameter target = takes_target ? FindTarget(request.query) : TargetParameter{};
  if (target.count > 1) {
    return PlainText(400, "400 bad request: give one target= parameter\n");
  }
  if (target.given) {
    return RouteTarget(request, target.value, pages, now);
  }
  if (request.path == kProbePath) {
    return PlainText(400,
                     "400 bad request: name the target: /probe?target=NAME, NAME a target "
                     "of --config.file (see /)\n");
  }
  const bool fleet = pages && !pages->targets.empty();
  if (fleet && request.path.rfind(kCheckPrefix, 0) == 0) {
    return PlainText(400,
                     "400 bad request: this exporter watches several targets: name one, "
                     "e.g. " +
                         request.path + "?target=NAME (see / for the targets)\n");
  }
  // Before the first poll only the fixed paths are known; a check page is
  // known once the collector that owns it has reported.
  const bool fixed =
      request.path == "/" || request.path == telemetry_path_ || request.path == "/health";
  if (!fixed && !Find(request.path, pages ? *pages : kNoPages)) {
    return PlainText(404, "404 page not found: see / for the pages this exporter serves\n");
  }
  if (!Readable(request)) return MethodNotAllowed();
  if (!pages) return PlainText(503, "503 the first collection has not finished yet\n");
  return Serve(request, *Find(request.path, *pages), pages->taken_at, now);
}

}  // namespace caloria
