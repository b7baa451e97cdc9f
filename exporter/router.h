#pragma once

#include <memory>
#include <string>
#include <vector>

#include "exporter/pages.h"

namespace caloria {

struct HttpRequest {
  std::string method;
  std::string path;  // without the query string
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
class Router {
 public:
  explicit Router(std::string telemetry_path) : telemetry_path_(std::move(telemetry_path)) {}

  // `pages` is null until the first poll has finished.
  HttpResponse Route(const HttpRequest& request, const Pages* pages) const;

 private:
  const RenderedPage* Find(const std::string& path, const Pages& pages) const;

  std::string telemetry_path_;
};

}  // namespace caloria
