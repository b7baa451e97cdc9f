#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/result.h"
#include "render/pages.h"

namespace caloria {

struct HttpRequest {
  std::string method;
  std::string path;     // without the query string
  std::string query{};  // after the '?', as sent (not decoded); empty without one
};

struct HttpResponse {
  int status_code = 200;
  std::string content_type;
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool head_only = false;  // HEAD: send headers, not the body
};

// Maps a request to one of the pre-rendered pages: pure, so every rule
// (404, 405, HEAD) is unit-tested without a socket.
//
// With --config.file, /probe?target=NAME serves that target's metrics and
// /health?target=NAME, /health/CHECK?target=NAME its health pages, all from
// the latest poll: a request never starts a query. NAME must be a target
// of the file: anything that is not a target name (a URL, a host:port, a
// path, anything percent-encoded) is refused with 400, an unknown name with
// 404, so the exporter can never be turned into a proxy.
class Router {
 public:
  // Health pages older than `stale_after` answer 503: a poller stuck past
  // every deadline (libpq resolving a host name, say) must not leave a
  // load balancer reading "healthy" forever.
  //
  // `reload` (may be empty: no reload endpoint) serves POST /-/reload, as
  // Prometheus and blackbox_exporter do.
  Router(std::string telemetry_path, std::chrono::milliseconds stale_after,
         std::function<Status()> reload = {})
      : telemetry_path_(std::move(telemetry_path)),
        stale_after_(stale_after),
        reload_(std::move(reload)) {}

  // `pages` is null until the first poll has finished.
  HttpResponse Route(
      const HttpRequest& request, const Pages* pages,
      std::chrono::system_clock::time_point now = std::chrono::system_clock::now()) const;

 private:
  const RenderedPage* Find(const std::string& path, const Pages& pages) const;
  HttpResponse Serve(const HttpRequest& request, const RenderedPage& page,
                     std::chrono::system_clock::time_point taken_at,
                     std::chrono::system_clock::time_point now) const;
  HttpResponse RouteTarget(const HttpRequest& request, const std::string& target,
                           const Pages* pages, std::chrono::system_clock::time_point now) const;

  HttpResponse Reload(const HttpRequest& request) const;

  std::string telemetry_path_;
  std::chrono::milliseconds stale_after_;
  std::function<Status()> reload_;
};

}  // namespace caloria
