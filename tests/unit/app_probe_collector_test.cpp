#include "collectors/app_probe/app_probe_collector.h"

#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "core/build_info.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::BindLoopback;
using ::caloria::testing::BuildCollectors;
using ::caloria::testing::FindFamily;
using ::caloria::testing::TempDir;
using std::chrono::milliseconds;
using Stopwatch = std::chrono::steady_clock;

// Collect() must come back within its deadline plus scheduling slack: the
// poller keeps its interval however the app behaves.
constexpr milliseconds kShortDeadline{300};
constexpr milliseconds kReturnBound{2000};
constexpr milliseconds kGenerous{5000};

constexpr const char* kSeedBody = R"({"database": "POSTGRESQL", "status": "healthy", )"
                                  R"("timestamp": "2025-07-24T20:28:53.144251", "user_count": 3})";
constexpr const char* kPassword = "Pw-DoNotLeak-7f3c91";

// What the local server answers a request with.
struct Reply {
  int status = 200;
  std::string headers;  // extra header lines, each ending in \r\n
  std::string body;
  std::size_t body_repeats = 1;  // the body is sent this many times
  bool content_length = true;    // else the body ends when the connection closes
  milliseconds delay{0};         // before the status line
};

Reply Json(std::string body, int status = 200) {
  Reply reply;
  reply.status = status;
  reply.headers = "Content-Type: application/json\r\n";
  reply.body = std::move(body);
  return reply;
}

Reply Redirect(const std::string& location) {
  Reply reply;
  reply.status = 302;
  reply.headers = "Location: " + location + "\r\n";
  return reply;
}

// A tiny HTTP/1.1 server on 127.0.0.1 with a kernel-chosen port, answering
// one connection at a time on its own thread with what `handler` returns for
// the request's path. Everything it waits on wakes every 20 ms to see
// whether the test is over, so it never outlives its test.
class LocalHttpServer {
 public:
  using Handler = std::function<Reply(const std::string& path)>;

  explicit LocalHttpServer(Handler handler) : handler_(std::move(handler)) {
    listener_ = BindLoopback(port_);
    EXPECT_GE(listener_, 0);
    EXPECT_EQ(::listen(listener_, 16), 0);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LocalHttpServer() {
    stop_ = true;
    thread_.join();
    ::close(listener_);
  }
  LocalHttpServer(const LocalHttpServer&) = delete;
  LocalHttpServer& operator=(const LocalHttpServer&) = delete;

  std::string Url(const std::string& path, const std::string& userinfo = "") const {
    return "http://" + userinfo + "127.0.0.1:" + std::to_string(port_) + path;
  }
  int port() const { return port_; }
  int requests() const { return requests_; }
  std::size_t body_bytes_sent() const { return body_bytes_sent_; }
  std::string last_request() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return last_request_;
  }

 private:
  // Waits for `events` on `fd`; false when the test is over first.
  bool Wait(int fd, short events) const {
    pollfd descriptor{fd, events, 0};
    while (!stop_) {
      if (::poll(&descriptor, 1, 20) > 0) return true;
    }
    return false;
  }

  void Serve() {
    while (Wait(listener_, POLLIN)) {
      const int connection = ::accept(listener_, nullptr, nullptr);
      if (connection < 0) continue;
      Answer(connection);
      ::close(connection);
    }
  }

  bool Send(int connection, const std::string& bytes) {
    std::size_t sent = 0;
    while (sent < bytes.size()) {
      if (!Wait(connection, POLLOUT)) return false;
      const ssize_t n = ::send(connection, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return false;  // the client hung up
      sent += static_cast<std::size_t>(n);
    }
    return true;
  }

  void Answer(int connection) {
    std::string request;
    char buffer[4096];
    while (request.find("\r\n\r\n") == std::string::npos) {
      if (!Wait(connection, POLLIN)) return;
      const ssize_t n = ::recv(connection, buffer, sizeof buffer, 0);
      if (n <= 0) return;
      request.append(buffer, static_cast<std::size_t>(n));
      // A TLS ClientHello: answer in plain HTTP, as a misconfigured port would.
      if (request[0] == '\x16') {
        Send(connection, "HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n");
        return;
      }
    }
    ++requests_;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      last_request_ = request;
    }
    const std::size_t path_start = request.find(' ') + 1;
    const std::string path = request.substr(path_start, request.find(' ', path_start) - path_start);
    const Reply reply = handler_(path);
    for (const auto until = Stopwatch::now() + reply.delay; Stopwatch::now() < until;) {
      if (stop_) return;
      std::this_thread::sleep_for(milliseconds(10));
    }
    std::string head = "HTTP/1.1 " + std::to_string(reply.status) + " Reply\r\n" + reply.headers;
    if (reply.content_length) {
      head += "Content-Length: " + std::to_string(reply.body.size() * reply.body_repeats) + "\r\n";
    }
    if (!Send(connection, head + "Connection: close\r\n\r\n")) return;
    for (std::size_t i = 0; i < reply.body_repeats; ++i) {
      if (!Send(connection, reply.body)) return;
      body_bytes_sent_ += reply.body.size();
    }
  }

  Handler handler_;
  int listener_ = -1;
  int port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<int> requests_{0};
  std::atomic<std::size_t> body_bytes_sent_{0};
  mutable std::mutex mutex_;
  std::string last_request_;
  std::thread thread_;
};

// A port on 127.0.0.1 where nothing listens.
int ClosedPort() {
  int port = 0;
  ::close(BindLoopback(port));
  return port;
}

FlagValues Flags(const std::vector<std::pair<std::string, std::string>>& values) {
  FlagValues flags;
  for (const auto& [name, value] : values) flags.Set(name, value);
  return flags;
}

AppProbeSettings SettingsFor(const std::string& url) {
  Result<std::optional<AppProbeSettings>> settings =
      AppProbeSettingsFromFlags(Flags({{"app.health-url", url}}));
  EXPECT_TRUE(settings.ok()) << (settings ? "" : settings.error());
  return settings && *settings ? **settings : AppProbeSettings{};
}

// One probe, with what it published for later collectors and how long it took.
struct Probe {
  CollectorResult result;
  std::optional<AppView> view;
  milliseconds took{};
};

Probe ProbeOnce(const std::string& url, milliseconds budget = kGenerous) {
  auto published = std::make_shared<Observed<AppView>>();
  published->Set(AppView{DatabaseType::kSqlite, "stale: from an earlier poll", 1.0});
  AppProbeCollector collector(SettingsFor(url), published);
  const auto start = Stopwatch::now();
  Probe probe;
  probe.result = collector.Collect(Deadline::After(budget));
  probe.took = std::chrono::duration_cast<milliseconds>(Stopwatch::now() - start);
  probe.view = published->Get();
  return probe;
}

Probe ProbeServing(Reply reply, milliseconds budget = kGenerous) {
  LocalHttpServer server([&reply](const std::string&) { return reply; });
  return ProbeOnce(server.Url("/health/database"), budget);
}

std::optional<double> Value(const CollectorResult& result, const std::string& name) {
  const prometheus::MetricFamily* family = FindFamily(result, name);
  if (!family || family->metric.size() != 1) return std::nullopt;
  return family->metric.front().gauge.value;
}

// The type label of caloria_app_database_info, or nullopt without the metric.
std::optional<std::string> InfoType(const CollectorResult& result) {
  const prometheus::MetricFamily* family = FindFamily(result, "caloria_app_database_info");
  if (!family || family->metric.size() != 1) return std::nullopt;
  EXPECT_EQ(family->metric.front().gauge.value, 1.0);
  for (const auto& label : family->metric.front().label) {
    if (label.name == "type") return label.value;
  }
  return std::nullopt;
}

const nlohmann::ordered_json& AppCheck(const CollectorResult& result) {
  static const nlohmann::ordered_json none;
  for (const HealthCheck& check : result.checks) {
    if (check.name == "app") {
      EXPECT_EQ(check.details.value("status", ""), HealthStatusName(check.status));
      return check.details;
    }
  }
  ADD_FAILURE() << "no app check";
  return none;
}

HealthStatus AppStatus(const CollectorResult& result) {
  for (const HealthCheck& check : result.checks) {
    if (check.name == "app") return check.status;
  }
  return HealthStatus::kHealthy;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// A probe that got no usable answer: unhealthy, an error naming `reason`,
// nothing the app said, and nothing published for later collectors.
void ExpectFailed(const Probe& probe, const std::string& reason) {
  const CollectorResult& result = probe.result;
  EXPECT_EQ(Value(result, "caloria_app_up"), 0.0);
  EXPECT_TRUE(FindFamily(result, "caloria_app_probe_duration_seconds"));
  EXPECT_FALSE(FindFamily(result, "caloria_app_database_info"));
  EXPECT_FALSE(FindFamily(result, "caloria_app_users"));
  EXPECT_FALSE(FindFamily(result, "caloria_app_healthy"));
  EXPECT_EQ(AppStatus(result), HealthStatus::kUnhealthy);
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, reason)) << *result.error;
  EXPECT_EQ(result.error->find('\n'), std::string::npos) << *result.error;
  EXPECT_TRUE(Contains(AppCheck(result).value("error", ""), reason)) << AppCheck(result).dump();
  EXPECT_TRUE(AppCheck(result)["database"].is_null());
  EXPECT_FALSE(probe.view.has_value()) << probe.view->evidence;
}

// ------------------------------------------------------------ answers --

TEST(AppProbeCollector, HealthyPostgresqlAppIsUpAndSaysSo) {
  LocalHttpServer server([](const std::string&) { return Json(kSeedBody); });
  const std::string url = server.Url("/health/database");
  const Probe probe = ProbeOnce(url);
  const CollectorResult& result = probe.result;

  EXPECT_FALSE(result.error.has_value()) << *result.error;
  EXPECT_EQ(Value(result, "caloria_app_up"), 1.0);
  EXPECT_EQ(Value(result, "caloria_app_probe_http_status"), 200.0);
  EXPECT_EQ(InfoType(result), "postgresql");
  EXPECT_EQ(Value(result, "caloria_app_users"), 3.0);
  EXPECT_EQ(Value(result, "caloria_app_healthy"), 1.0);
  ASSERT_TRUE(Value(result, "caloria_app_probe_duration_seconds").has_value());
  EXPECT_GE(*Value(result, "caloria_app_probe_duration_seconds"), 0.0);
  EXPECT_LT(*Value(result, "caloria_app_probe_duration_seconds"), 5.0);

  EXPECT_EQ(AppStatus(result), HealthStatus::kHealthy);
  const auto& details = AppCheck(result);
  EXPECT_EQ(details.value("url", ""), url);
  EXPECT_EQ(details["http_status"], 200);
  EXPECT_EQ(details.value("database", ""), "POSTGRESQL");
  EXPECT_EQ(details["user_count"], 3);
  EXPECT_EQ(details.value("app_status", ""), "healthy");
  EXPECT_EQ(details.value("app_timestamp", ""), "2025-07-24T20:28:53.144251");
  EXPECT_TRUE(details.contains("duration_seconds"));
  EXPECT_FALSE(details.contains("error"));
  EXPECT_FALSE(details.contains("problems"));

  ASSERT_TRUE(probe.view.has_value());
  EXPECT_EQ(probe.view->database_type, DatabaseType::kPostgresql);
  EXPECT_EQ(probe.view->users, 3.0);
  EXPECT_EQ(probe.view->evidence, "its health page at " + url + " says POSTGRESQL");
}

TEST(AppProbeCollector, SqliteAppIsReportedAsSqlite) {
  const Probe probe = ProbeServing(
      Json(R"({"database": "SQLITE", "status": "healthy", "timestamp": "x", "user_count": 3})"));
  EXPECT_FALSE(probe.result.error.has_value()) << *probe.result.error;
  EXPECT_EQ(Value(probe.result, "caloria_app_up"), 1.0);
  EXPECT_EQ(InfoType(probe.result), "sqlite");
  EXPECT_EQ(AppCheck(probe.result).value("database", ""), "SQLITE");
  // The app is healthy on its own terms; whether SQLite is right is for the
  // consistency collector to judge.
  EXPECT_EQ(AppStatus(probe.result), HealthStatus::kHealthy);
  ASSERT_TRUE(probe.view.has_value());
  EXPECT_EQ(probe.view->database_type, DatabaseType::kSqlite);
  EXPECT_TRUE(Contains(probe.view->evidence, "says SQLITE")) << probe.view->evidence;
}

TEST(AppProbeCollector, LowerCaseTypesAreTheSameTypes) {
  const Probe probe =
      ProbeServing(Json(R"({"database": "postgresql", "status": "healthy", "user_count": 0})"));
  EXPECT_EQ(InfoType(probe.result), "postgresql");
  EXPECT_EQ(Value(probe.result, "caloria_app_users"), 0.0);
  EXPECT_EQ(AppStatus(probe.result), HealthStatus::kHealthy);
}

TEST(AppProbeCollector, AnUnknownTypeIsLabelledAsReportedAndDegraded) {
  const Probe probe =
      ProbeServing(Json(R"({"database": "MySQL", "status": "healthy", "user_count": 3})"));
  EXPECT_EQ(Value(probe.result, "caloria_app_up"), 1.0);
  EXPECT_EQ(InfoType(probe.result), "mysql");
  EXPECT_EQ(AppStatus(probe.result), HealthStatus::kDegraded);
  EXPECT_FALSE(probe.result.error.has_value()) << "a finding, not a failed probe";
  const std::string problems = AppCheck(probe.result)["problems"].dump();
  EXPECT_TRUE(Contains(problems, "unknown database type 'MySQL'")) << problems;
  ASSERT_TRUE(probe.view.has_value());
  EXPECT_EQ(probe.view->database_type, std::nullopt);
}

TEST(AppProbeCollector, WrongAndMissingFieldsAreDegradedAndAbsent) {
  const Probe probe = ProbeServing(Json(R"({"database": 7, "user_count": -3})"));
  const CollectorResult& result = probe.result;
  EXPECT_EQ(Value(result, "caloria_app_up"), 1.0);
  EXPECT_FALSE(FindFamily(result, "caloria_app_database_info"));
  EXPECT_FALSE(FindFamily(result, "caloria_app_users"));
  EXPECT_EQ(Value(result, "caloria_app_healthy"), 0.0);
  EXPECT_EQ(AppStatus(result), HealthStatus::kDegraded);
  const auto& details = AppCheck(result);
  EXPECT_TRUE(details["database"].is_null());
  EXPECT_TRUE(details["user_count"].is_null());
  EXPECT_TRUE(details["app_status"].is_null());
  EXPECT_TRUE(details["app_timestamp"].is_null());
  const std::string problems = details["problems"].dump();
  EXPECT_TRUE(Contains(problems, "database as 7")) << problems;
  EXPECT_TRUE(Contains(problems, "no status field")) << problems;
  EXPECT_TRUE(Contains(problems, "user_count as -3")) << problems;
  ASSERT_TRUE(probe.view.has_value());
  EXPECT_EQ(probe.view->database_type, std::nullopt);
  EXPECT_EQ(probe.view->users, std::nullopt);
  EXPECT_TRUE(Contains(probe.view->evidence, "does not name its database")) << probe.view->evidence;
}

TEST(AppProbeCollector, AnAppThatSaysItIsUnhealthyIsUnhealthy) {
  const Probe probe =
      ProbeServing(Json(R"({"database": "POSTGRESQL", "status": "unhealthy", "user_count": 3})"));
  EXPECT_EQ(Value(probe.result, "caloria_app_up"), 1.0);
  EXPECT_EQ(Value(probe.result, "caloria_app_healthy"), 0.0);
  EXPECT_EQ(AppStatus(probe.result), HealthStatus::kUnhealthy);
  EXPECT_TRUE(Contains(AppCheck(probe.result)["problems"].dump(), "'unhealthy'"));
}

TEST(AppProbeCollector, AnAppThatSaysItIsDegradedIsDegraded) {
  const Probe probe =
      ProbeServing(Json(R"({"database": "POSTGRESQL", "status": "degraded", "user_count": 3})"));
  EXPECT_EQ(Value(probe.result, "caloria_app_healthy"), 0.0);
  EXPECT_EQ(AppStatus(probe.result), HealthStatus::kDegraded);
}

// ------------------------------------------------------------ garbage --

TEST(AppProbeCollector, AnHtmlPageIsNotJson) {
  Reply reply;
  reply.headers = "Content-Type: text/html\r\n";
  reply.body = "<!DOCTYPE html><html><body>Welcome to nginx!</body></html>";
  const Probe probe = ProbeServing(reply);
  ExpectFailed(probe, "not JSON");
  // There was an answer: its status is known.
  EXPECT_EQ(Value(probe.result, "caloria_app_probe_http_status"), 200.0);
  EXPECT_EQ(AppCheck(probe.result)["http_status"], 200);
}

TEST(AppProbeCollector, JsonThatIsNotAnObjectIsGarbage) {
  ExpectFailed(ProbeServing(Json(R"(["POSTGRESQL", "healthy"])")), "not a JSON object");
}

TEST(AppProbeCollector, RandomBytesAreGarbage) {
  Reply reply;
  for (int i = 0; i < 4096; ++i) reply.body += static_cast<char>((i * 7919) % 256);
  ExpectFailed(ProbeServing(reply), "not JSON");
}

TEST(AppProbeCollector, AnEmptyBodyIsGarbage) { ExpectFailed(ProbeServing(Json("")), "empty"); }

// ------------------------------------------------------- HTTP statuses --

TEST(AppProbeCollector, AServerErrorIsUnhealthyWithItsStatus) {
  const Probe probe =
      ProbeServing(Json(R"({"database": "POSTGRESQL", "status": "unhealthy"})", 500));
  ExpectFailed(probe, "HTTP 500");
  EXPECT_EQ(Value(probe.result, "caloria_app_probe_http_status"), 500.0);
  EXPECT_EQ(AppCheck(probe.result)["http_status"], 500);
}

TEST(AppProbeCollector, NotFoundIsUnhealthyAndNamesTheFlag) {
  const Probe probe = ProbeServing(Json(R"({"error": "not found"})", 404));
  ExpectFailed(probe, "HTTP 404");
  EXPECT_TRUE(Contains(*probe.result.error, "--app.health-url")) << *probe.result.error;
}

// ------------------------------------------------- the probe's bounds --

TEST(AppProbeCollector, AHugeBodyFailsFastWithoutReadingItAll) {
  Reply reply;
  reply.body = std::string(64 * 1024, ' ');
  reply.body_repeats = 1024;  // 64 MiB
  reply.content_length = false;
  LocalHttpServer server([&reply](const std::string&) { return reply; });
  const Probe probe = ProbeOnce(server.Url("/health/database"), kShortDeadline * 10);
  ExpectFailed(probe, "body too big");
  EXPECT_TRUE(Contains(*probe.result.error, "64 KiB")) << *probe.result.error;
  EXPECT_LT(probe.took, kReturnBound);
  EXPECT_LT(server.body_bytes_sent(), 16u * 1024 * 1024);
}

TEST(AppProbeCollector, AHugeContentLengthFailsBeforeTheBody) {
  Reply reply;
  reply.body = std::string(64 * 1024, ' ');
  reply.body_repeats = 1024;
  LocalHttpServer server([&reply](const std::string&) { return reply; });
  const Probe probe = ProbeOnce(server.Url("/health/database"));
  ExpectFailed(probe, "body too big");
  EXPECT_LT(server.body_bytes_sent(), 16u * 1024 * 1024);
}

TEST(AppProbeCollector, ABodyOfExactly64KibIsRead) {
  std::string body = R"({"database": "SQLITE", "status": "healthy", "user_count": 3, "pad": ")";
  body += std::string(64 * 1024 - body.size() - 2, 'x') + "\"}";
  ASSERT_EQ(body.size(), 64u * 1024);
  const Probe probe = ProbeServing(Json(body));
  EXPECT_FALSE(probe.result.error.has_value()) << *probe.result.error;
  EXPECT_EQ(InfoType(probe.result), "sqlite");
}

TEST(AppProbeCollector, ASlowAppIsGivenUpOnAtTheDeadline) {
  Reply reply = Json(kSeedBody);
  reply.delay = milliseconds(10000);
  LocalHttpServer server([&reply](const std::string&) { return reply; });
  const Probe probe = ProbeOnce(server.Url("/health/database"), kShortDeadline);
  EXPECT_LT(probe.took, kShortDeadline + kReturnBound);
  EXPECT_GE(probe.took, kShortDeadline - milliseconds(50));
  ExpectFailed(probe, "timeout");
  EXPECT_FALSE(FindFamily(probe.result, "caloria_app_probe_http_status"));
  EXPECT_TRUE(AppCheck(probe.result)["http_status"].is_null());
}

TEST(AppProbeCollector, AnExpiredDeadlineFailsAtOnce) {
  LocalHttpServer server([](const std::string&) { return Json(kSeedBody); });
  AppProbeCollector collector(SettingsFor(server.Url("/health/database")), nullptr);
  const auto start = Stopwatch::now();
  const CollectorResult result = collector.Collect(Deadline::After(milliseconds(0)));
  EXPECT_LT(Stopwatch::now() - start, milliseconds(500));
  ASSERT_TRUE(result.error.has_value());
  EXPECT_TRUE(Contains(*result.error, "timeout")) << *result.error;
  EXPECT_EQ(server.requests(), 0);
}

// ----------------------------------------------------------- redirects --

TEST(AppProbeCollector, ARedirectIsFollowed) {
  LocalHttpServer server([](const std::string& path) {
    return path == "/health/database" ? Json(kSeedBody) : Redirect("/health/database");
  });
  const Probe probe = ProbeOnce(server.Url("/old/health"));
  EXPECT_FALSE(probe.result.error.has_value()) << *probe.result.error;
  EXPECT_EQ(Value(probe.result, "caloria_app_probe_http_status"), 200.0);
  EXPECT_EQ(InfoType(probe.result), "postgresql");
  EXPECT_EQ(server.requests(), 2);
}

TEST(AppProbeCollector, ARedirectLoopFailsAfterThreeRedirects) {
  LocalHttpServer server([](const std::string&) { return Redirect("/loop"); });
  const Probe probe = ProbeOnce(server.Url("/loop"));
  ExpectFailed(probe, "redirect loop");
  EXPECT_EQ(server.requests(), 4) << "the request and 3 redirects";
}

TEST(AppProbeCollector, ARedirectToAnotherSchemeIsRefused) {
  LocalHttpServer server([](const std::string&) { return Redirect("ftp://127.0.0.1/health"); });
  ExpectFailed(ProbeOnce(server.Url("/health/database")), "other than http or https");
  EXPECT_EQ(server.requests(), 1);
}

// ------------------------------------------------------- no answer --

TEST(AppProbeCollector, ARefusedConnectionIsUnhealthy) {
  const std::string url = "http://127.0.0.1:" + std::to_string(ClosedPort()) + "/health/database";
  const Probe probe = ProbeOnce(url);
  ExpectFailed(probe, "cannot connect to the app");
  EXPECT_LT(probe.took, kReturnBound);
  EXPECT_FALSE(FindFamily(probe.result, "caloria_app_probe_http_status"));
}

TEST(AppProbeCollector, HttpsToAPlainHttpPortIsATlsFailure) {
  LocalHttpServer server([](const std::string&) { return Json(kSeedBody); });
  const Probe probe =
      ProbeOnce("https://127.0.0.1:" + std::to_string(server.port()) + "/health/database");
  ExpectFailed(probe, "TLS failure");
  EXPECT_TRUE(Contains(*probe.result.error, "--app.health-ca-file")) << *probe.result.error;
  EXPECT_LT(probe.took, kReturnBound);
}

TEST(AppProbeCollector, ItRecoversWhenTheAppComesBack) {
  std::atomic<bool> broken{true};
  LocalHttpServer server(
      [&broken](const std::string&) { return broken ? Json("{oops", 502) : Json(kSeedBody); });
  auto published = std::make_shared<Observed<AppView>>();
  AppProbeCollector collector(SettingsFor(server.Url("/health/database")), published);
  EXPECT_TRUE(collector.Collect(Deadline::After(kGenerous)).error.has_value());
  EXPECT_FALSE(published->Get().has_value());
  broken = false;
  const CollectorResult later = collector.Collect(Deadline::After(kGenerous));
  EXPECT_FALSE(later.error.has_value()) << *later.error;
  EXPECT_EQ(Value(later, "caloria_app_up"), 1.0);
  ASSERT_TRUE(published->Get().has_value());
  EXPECT_EQ(published->Get()->database_type, DatabaseType::kPostgresql);
}

// ------------------------------------------------------ the request --

TEST(AppProbeCollector, TheRequestNamesTheExporterAndAsksForJson) {
  LocalHttpServer server([](const std::string&) { return Json(kSeedBody); });
  ProbeOnce(server.Url("/health/database"));
  const std::string request = server.last_request();
  EXPECT_EQ(request.rfind("GET /health/database HTTP/1.1\r\n", 0), 0u) << request;
  EXPECT_TRUE(Contains(request, std::string("User-Agent: caloria_exporter/") + kVersion + "\r\n"))
      << request;
  EXPECT_TRUE(Contains(request, "Accept: application/json\r\n")) << request;
}

// Everything a collector hands out, as text.
std::string Everything(const Probe& probe, const AppProbeCollector& collector) {
  std::string all = probe.result.error.value_or("");
  for (const HealthCheck& check : probe.result.checks) all += check.details.dump();
  for (const auto& family : probe.result.families) {
    for (const auto& metric : family.metric) {
      for (const auto& label : metric.label) all += label.value;
    }
  }
  if (probe.view) all += probe.view->evidence;
  for (const auto& [key, value] : collector.Settings()) all += value;
  return all;
}

TEST(AppProbeCollector, ThePasswordInTheUrlIsSentButNeverShown) {
  LocalHttpServer server([](const std::string&) { return Json(kSeedBody); });
  const std::string url = server.Url("/health/database", std::string("monitor:") + kPassword + "@");
  auto published = std::make_shared<Observed<AppView>>();
  AppProbeCollector collector(SettingsFor(url), published);
  Probe probe;
  probe.result = collector.Collect(Deadline::After(kGenerous));
  probe.view = published->Get();

  EXPECT_FALSE(probe.result.error.has_value()) << *probe.result.error;
  // Basic authentication: base64("monitor:Pw-DoNotLeak-7f3c91").
  EXPECT_TRUE(Contains(server.last_request(),
                       "Authorization: Basic bW9uaXRvcjpQdy1Eb05vdExlYWstN2YzYzkx\r\n"))
      << server.last_request();
  const std::string shown = Everything(probe, collector);
  EXPECT_FALSE(Contains(shown, kPassword)) << shown;
  EXPECT_TRUE(Contains(shown, "monitor:***@127.0.0.1")) << shown;
}

TEST(AppProbeCollector, ThePasswordIsNotShownWhenTheProbeFails) {
  const std::string url = "http://monitor:" + std::string(kPassword) +
                          "@127.0.0.1:" + std::to_string(ClosedPort()) + "/health/database";
  AppProbeCollector collector(SettingsFor(url), nullptr);
  Probe probe;
  probe.result = collector.Collect(Deadline::After(kGenerous));
  ASSERT_TRUE(probe.result.error.has_value());
  EXPECT_FALSE(Contains(Everything(probe, collector), kPassword)) << Everything(probe, collector);
}

// ---------------------------------------------------------- the spec --

TEST(AppProbeCollectorSpec, IsOnByDefaultWithItsFlags) {
  const CollectorSpec spec = AppProbeCollectorSpec();
  EXPECT_EQ(spec.name, "app_probe");
  EXPECT_TRUE(spec.enabled_by_default);
  std::vector<std::string> flags;
  for (const auto& flag : spec.flags) flags.push_back(flag.name);
  EXPECT_EQ(flags, (std::vector<std::string>{"app.health-url", "app.health-ca-file"}));
}

// The collectors the registry builds from the app probe's spec alone.
Result<CollectorList> Build(const std::vector<std::string>& args) {
  return BuildCollectors(CollectorRegistry({AppProbeCollectorSpec()}), args);
}

TEST(AppProbeCollectorSpec, WithoutAUrlThereIsNothingToWatch) {
  Result<CollectorList> built = Build({});
  ASSERT_TRUE(built.ok()) << built.error();
  EXPECT_TRUE(built->empty());
}

TEST(AppProbeCollectorSpec, WithAUrlItBuildsTheProbe) {
  Result<CollectorList> built = Build({"--app.health-url=https://caloria.example/health/database"});
  ASSERT_TRUE(built.ok()) << built.error();
  ASSERT_EQ(built->size(), 1u);
  EXPECT_EQ(built->front()->Name(), "app_probe");
  // Switched off, it is not built even with a URL.
  EXPECT_TRUE(
      Build({"--app.health-url=https://caloria.example/", "--no-collector.app_probe"})->empty());
}

TEST(AppProbeCollectorSpec, OnlyHttpAndHttpsUrlsAreAccepted) {
  for (const std::string url : {"ftp://caloria.example/health", "file:///etc/passwd",
                                "caloria.example/health/database", "", "https://", "gopher://x/"}) {
    SCOPED_TRACE(url);
    const Status checked = AppProbeCollectorSpec().check_flags(Flags({{"app.health-url", url}}));
    ASSERT_FALSE(checked.ok());
    EXPECT_TRUE(Contains(checked.error(), "--app.health-url")) << checked.error();
    EXPECT_FALSE(Build({"--app.health-url=" + url}).ok());
  }
  for (const std::string url :
       {"http://127.0.0.1:5000/health/database", "HTTPS://caloria.example/health/database"}) {
    EXPECT_TRUE(AppProbeCollectorSpec().check_flags(Flags({{"app.health-url", url}})).ok()) << url;
  }
}

TEST(AppProbeCollectorSpec, TheCaFileMustBeReadable) {
  TempDir dir;
  const std::string url = "https://caloria.example/health/database";
  const auto check = [&url](const std::string& ca_file) {
    return AppProbeCollectorSpec().check_flags(
        Flags({{"app.health-url", url}, {"app.health-ca-file", ca_file}}));
  };
  const Status missing = check(dir.File("missing.pem"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(Contains(missing.error(), dir.File("missing.pem"))) << missing.error();
  EXPECT_TRUE(Contains(missing.error(), "--app.health-ca-file")) << missing.error();
  EXPECT_FALSE(check(dir.Path()).ok()) << "a folder";
  EXPECT_FALSE(check("").ok());
  std::ofstream(dir.File("ca.pem")) << "-----BEGIN CERTIFICATE-----\n";
  EXPECT_TRUE(check(dir.File("ca.pem")).ok());
}

TEST(AppProbeCollectorSpec, ACaFileWithoutAUrlIsAMistake) {
  TempDir dir;
  std::ofstream(dir.File("ca.pem")) << "-----BEGIN CERTIFICATE-----\n";
  const Status checked =
      AppProbeCollectorSpec().check_flags(Flags({{"app.health-ca-file", dir.File("ca.pem")}}));
  ASSERT_FALSE(checked.ok());
  EXPECT_TRUE(Contains(checked.error(), "--app.health-url")) << checked.error();
}

}  // namespace
}  // namespace caloria
