#include "collectors/app_probe/app_probe_collector.h"

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <utility>
#include <vector>

#include "core/build_info.h"
#include "core/clock.h"

namespace caloria {
namespace {

using Stopwatch = std::chrono::steady_clock;

constexpr const char* kUrlFlag = "app.health-url";
constexpr const char* kCaFileFlag = "app.health-ca-file";

// Why a non-2xx answer is not the health page, and what to do about it.
std::string ExplainStatus(long status) {
  const std::string http = "HTTP " + std::to_string(status) + ": ";
  if (status >= 500) {
    return http +
           "the app's health page answered with a server error: check the app's log (its "
           "database may be down)";
  }
  if (status >= 400) {
    return http +
           "the app refused the request for its health page: check the path in "
           "--app.health-url and any user:password it needs";
  }
  if (status >= 300) {
    return http +
           "the app's health page redirects without a usable Location: point "
           "--app.health-url at the page itself";
  }
  return http +
         "not an answer a health page gives: point --app.health-url at the app's "
         "/health/database";
}

// The app's own word on its health, and each field that is not as the
// seed's app writes it.
std::vector<std::string> Findings(const AppHealth& health) {
  std::vector<std::string> findings = health.problems;
  if (health.status && *health.status != "healthy") {
    findings.push_back("the app says its status is '" + *health.status + "'");
  }
  return findings;
}

// unreachable, garbage or not 2xx: unhealthy, as is an app that says so;
// any finding short of that: degraded.
HealthStatus Judge(const std::optional<AppHealth>& health,
                   const std::vector<std::string>& findings) {
  if (!health) return HealthStatus::kUnhealthy;
  if (health->status == "unhealthy") return HealthStatus::kUnhealthy;
  return findings.empty() ? HealthStatus::kHealthy : HealthStatus::kDegraded;
}

Status CheckCaFile(const std::string& path) {
  if (path.empty()) {
    return Fail(
        "--app.health-ca-file is empty: give the PEM file of the CA that signed the app's "
        "certificate, or leave the flag out");
  }
  std::error_code error;
  if (std::filesystem::is_directory(path, error)) {
    return Fail("--app.health-ca-file '" + path +
                "' is a folder: give the PEM file of the CA that signed the app's certificate");
  }
  std::ifstream in(path);
  if (!in) {
    return Fail("--app.health-ca-file '" + path + "' cannot be read (" + std::strerror(errno) +
                "): give a readable PEM file of the CA that signed the app's certificate");
  }
  return {};
}

}  // namespace

Result<std::optional<AppProbeSettings>> AppProbeSettingsFromFlags(const FlagValues& flags) {
  const std::optional<std::string> url = flags.Get(kUrlFlag);
  const std::optional<std::string> ca_file = flags.Get(kCaFileFlag);
  if (ca_file) {
    if (Status readable = CheckCaFile(*ca_file); !readable) return Fail(readable.error());
  }
  if (!url) {
    if (ca_file) {
      return Fail(
          "--app.health-ca-file is set but --app.health-url is not: give the app's health "
          "page with --app.health-url, or drop --app.health-ca-file");
    }
    return std::optional<AppProbeSettings>();
  }
  Result<HealthUrl> parsed = ParseHealthUrl(*url);
  if (!parsed) return Fail(parsed.error());
  return std::optional<AppProbeSettings>(AppProbeSettings{std::move(*parsed), ca_file});
}

AppProbeCollector::AppProbeCollector(AppProbeSettings settings,
                                     std::shared_ptr<Observed<AppView>> published)
    : settings_(std::move(settings)), published_(std::move(published)) {
  options_.ca_file = settings_.ca_file;
  options_.user_agent = std::string("caloria_exporter/") + kVersion;
}

AppProbeCollector::Seen AppProbeCollector::Probe(const Deadline& deadline) const {
  Seen seen;
  const auto start = Stopwatch::now();
  Result<HttpAnswer> answer = FetchHttp(settings_.url, options_, deadline);
  if (!answer) {
    seen.duration_seconds = std::chrono::duration<double>(Stopwatch::now() - start).count();
    seen.failure = answer.error();
    return seen;
  }
  seen.duration_seconds = answer->duration.count();
  seen.http_status = answer->status;
  if (answer->status < 200 || answer->status > 299) {
    seen.failure = ExplainStatus(answer->status);
    return seen;
  }
  Result<AppHealth> health = ParseAppHealth(answer->body);
  if (!health) {
    seen.failure = health.error();
    return seen;
  }
  seen.health = std::move(*health);
  return seen;
}

CollectorResult AppProbeCollector::Collect(const Deadline& deadline) {
  const Seen seen = Probe(deadline);
  if (published_) {
    if (seen.health) {
      const std::string says =
          seen.health->database ? "says " + *seen.health->database : "does not name its database";
      published_->Set(AppView{seen.health->database_type,
                              "its health page at " + settings_.url.redacted + " " + says,
                              seen.health->user_count});
    } else {
      published_->Set(std::nullopt);
    }
  }
  return Publish(seen);
}

CollectorResult AppProbeCollector::Publish(const Seen& seen) const {
  CollectorResult result;
  auto gauge = [&result](const char* name, const char* help, double value,
                         std::vector<prometheus::ClientMetric::Label> labels = {}) {
    result.families.push_back(SingleGauge(name, help, value, std::move(labels)));
  };
  const std::optional<AppHealth>& health = seen.health;
  gauge("caloria_app_up",
        "Whether the app answered its health page (--app.health-url) with a 2xx and a JSON "
        "object (1) or not (0).",
        health ? 1 : 0);
  gauge("caloria_app_probe_duration_seconds",
        "How long the last probe of the app's health page took.", seen.duration_seconds);
  if (seen.http_status) {
    gauge("caloria_app_probe_http_status",
          "The HTTP status of the app's health page at the last probe (after redirects).",
          static_cast<double>(*seen.http_status));
  }
  if (health && health->type_label) {
    gauge("caloria_app_database_info",
          "The database type the app's health page names, lower-cased: postgresql, sqlite, or "
          "another value it reports. Always 1.",
          1, {{"type", *health->type_label}});
  }
  if (health && health->user_count) {
    gauge("caloria_app_users", "The user_count the app's health page reports.",
          *health->user_count);
  }
  if (health) {
    gauge("caloria_app_healthy",
          "Whether the app's health page says its status is healthy (1) or not (0).",
          health->status == "healthy" ? 1 : 0);
  }

  const std::vector<std::string> findings = health ? Findings(*health) : std::vector<std::string>{};
  HealthCheck check;
  check.name = "app";
  check.status = Judge(health, findings);
  auto& details = check.details;
  details["status"] = HealthStatusName(check.status);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["url"] = settings_.url.redacted;
  details["http_status"] = OrNull(seen.http_status);
  details["duration_seconds"] = seen.duration_seconds;
  details["database"] = OrNull(health ? health->database : std::nullopt);
  details["user_count"] = health && health->user_count
                              ? nlohmann::ordered_json(static_cast<long long>(*health->user_count))
                              : nlohmann::ordered_json(nullptr);
  details["app_status"] = OrNull(health ? health->status : std::nullopt);
  details["app_timestamp"] = OrNull(health ? health->timestamp : std::nullopt);
  if (!findings.empty()) details["problems"] = findings;
  if (seen.failure) {
    details["error"] = *seen.failure;
    result.error = "the probe of the app's health page failed: " + *seen.failure;
  }
  result.checks.push_back(std::move(check));
  return result;
}

LogFields AppProbeCollector::Settings() const {
  return {{"app_health_url", settings_.url.redacted},
          {"app_health_ca_file", settings_.ca_file.value_or("(the system's CAs)")}};
}

CollectorSpec AppProbeCollectorSpec() {
  CollectorSpec spec;
  spec.name = "app_probe";
  spec.title = "App probe collector";
  spec.help =
      "Ask the running app's own health page which database it uses (needs --app.health-url)";
  spec.flags = {
      {kUrlFlag, "URL",
       "The app's database health page, e.g. https://caloria.example/health/database; "
       "user:password@ is sent as basic authentication and never shown (default none: no "
       "probe)."},
      {kCaFileFlag, "PATH",
       "PEM file of the CA that signed the app's certificate, instead of the system's CAs "
       "(default the system's)."}};
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<std::optional<AppProbeSettings>> settings = AppProbeSettingsFromFlags(flags);
    return settings ? Status() : Fail(settings.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    Result<std::optional<AppProbeSettings>> settings =
        AppProbeSettingsFromFlags(context.config.flags);
    if (!settings) return Fail(settings.error());
    if (!*settings) return std::unique_ptr<Collector>();  // no --app.health-url: nothing to watch
    if (Status ready = InitHttpFetching(); !ready) return Fail(ready.error());
    return std::unique_ptr<Collector>(
        std::make_unique<AppProbeCollector>(std::move(**settings), context.shared.app_probe));
  };
  return spec;
}

}  // namespace caloria
