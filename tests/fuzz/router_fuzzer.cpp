// The HTTP request path of the router (http/router): any method, path and
// query bytes, before the first poll, with fresh pages and with stale ones,
// with the pages of two targets (/probe?target=), with a reload that works
// and one that fails.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "config/targets_file.h"
#include "core/result.h"
#include "http/router.h"
#include "render/pages.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;
using std::chrono::seconds;

const std::chrono::system_clock::time_point kTakenAt{seconds(1795572004)};

caloria::Pages SamplePages() {
  caloria::Pages pages;
  pages.taken_at = kTakenAt;
  pages.metrics = {200, "text/plain; version=0.0.4", "caloria_database_up 1\n"};
  pages.health = {503, "application/json", "{\"status\": \"unhealthy\"}\n"};
  pages.checks["database"] = {503, "application/json", "{\"database\": \"SQLITE\"}\n"};
  pages.checks["backup"] = {200, "application/json", "{\"status\": \"healthy\"}\n"};
  pages.checks["configuration"] = {200, "application/json", "{}\n"};
  pages.landing = {200, "text/html; charset=utf-8", "<html></html>\n"};
  return pages;
}

// Two targets of --config.file, each with the sample's pages.
caloria::Pages FleetPages() {
  caloria::Pages fleet = SamplePages();
  fleet.checks.clear();
  for (const char* name : {"alpha", "beta"}) {
    fleet.targets[name] = std::make_shared<const caloria::Pages>(SamplePages());
  }
  return fleet;
}

// The value of the one target= of a query, if exactly one is given.
std::optional<std::string> TargetOf(const std::string& query) {
  std::optional<std::string> found;
  int count = 0;
  std::size_t start = 0;
  while (start <= query.size()) {
    const std::size_t end = std::min(query.find('&', start), query.size());
    const std::string pair = query.substr(start, end - start);
    if (pair.rfind("target=", 0) == 0 || pair == "target") {
      ++count;
      found = pair.size() > 7 ? pair.substr(7) : "";
    }
    start = end + 1;
  }
  return count == 1 ? found : std::nullopt;
}

// Whether a path names a page: the fixed ones always, the reload endpoint
// when the router has one, a check page once a poll has reported it.
bool KnownPath(const std::string& path, const caloria::Pages* pages, bool reload) {
  if (path == "/" || path == "/metrics" || path == "/health") return true;
  if (path == "/-/reload") return reload;
  constexpr std::string_view kCheck = "/health/";
  return pages != nullptr && path.rfind(kCheck, 0) == 0 &&
         pages->checks.count(path.substr(kCheck.size())) == 1;
}

bool OneLine(const std::string& text) { return text.find_first_of("\r\n") == std::string::npos; }

void Check(const caloria::Router& router, bool reload, const caloria::HttpRequest& request,
           const caloria::Pages* pages, std::chrono::system_clock::time_point now) {
  const caloria::HttpResponse response = router.Route(request, pages, now);
  const caloria::HttpResponse again = router.Route(request, pages, now);
  Require(response.status_code == again.status_code && response.body == again.body &&
              response.headers == again.headers,
          "the same request routed twice gave different responses");
  const int status = response.status_code;
  Require(status == 200 || status == 400 || status == 404 || status == 405 || status == 500 ||
              status == 503,
          "a status the router never sends");
  const bool probe = request.path == "/probe";
  const bool targeted = request.query.find("target") != std::string::npos &&
                        (probe || request.path.rfind("/health", 0) == 0);
  const bool fleet = pages != nullptr && !pages->targets.empty();
  if (!probe && !targeted && !fleet) {
    Require((status == 404) != KnownPath(request.path, pages, reload),
            "a known page answered 404, or an unknown one did not");
  }
  if (status == 400) {
    Require(probe || targeted || (fleet && request.path.rfind("/health/", 0) == 0),
            "400 for a request that names no target");
  }
  // Never a proxy: a target value that is not a name is refused before
  // anything else is looked at.
  const std::optional<std::string> target = TargetOf(request.query);
  if ((probe || targeted) && target && !caloria::IsTargetName(*target)) {
    Require(status == 400, "a target value that is not a name was not refused");
  }
  if (fleet && target && (*target == "alpha" || *target == "beta") &&
      (probe || request.path == "/health") && request.method == "GET" &&
      now - pages->taken_at < seconds(60)) {
    Require(status == 200 || status == 503, "a known target's page was not served");
    Require(response.body == (probe ? pages->targets.at(*target)->metrics.body
                                    : pages->targets.at(*target)->health.body),
            "another page than the target's");
  }
  Require(OneLine(response.content_type), "a content type breaks the line");
  for (const auto& [name, value] : response.headers) {
    Require(OneLine(name) && OneLine(value), "a header breaks the line");
  }
  Require(!response.head_only || request.method == "HEAD", "a body left out for another method");
  const bool fresh = pages != nullptr && now - pages->taken_at < seconds(60);
  if (fresh && (request.method == "GET" || request.method == "HEAD") &&
      request.path != "/-/reload" && status != 404) {
    Require(status != 405 && status != 500, "GET or HEAD of a page refused");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  // "METHOD PATH?QUERY": the method up to the first space, the path up to
  // the first '?', the query all the rest.
  const std::string text = caloria::fuzz::Text(data, size);
  const std::size_t space = text.find(' ');
  const std::string target = space == std::string::npos ? "" : text.substr(space + 1);
  const std::size_t question = target.find('?');
  const caloria::HttpRequest request{
      text.substr(0, space), target.substr(0, question),
      question == std::string::npos ? "" : target.substr(question + 1)};
  static const caloria::Pages pages = SamplePages();
  static const caloria::Pages fleet = FleetPages();
  static const caloria::Router plain("/metrics", seconds(60));
  static const caloria::Router reloads("/metrics", seconds(60), [] { return caloria::Status(); });
  static const caloria::Router fails("/metrics", seconds(60), [] {
    return caloria::Status(caloria::Fail("cannot read the env file: check it"));
  });
  for (const auto& [router, reload] :
       {std::pair{&plain, false}, std::pair{&reloads, true}, std::pair{&fails, true}}) {
    Check(*router, reload, request, nullptr, kTakenAt);
    Check(*router, reload, request, &pages, kTakenAt + seconds(5));
    Check(*router, reload, request, &pages, kTakenAt + seconds(3600));
    Check(*router, reload, request, &fleet, kTakenAt + seconds(5));
  }
  return 0;
}
