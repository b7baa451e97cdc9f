// caloria_exporter: watches the Caloria app's database and publishes its
// health as Prometheus metrics and JSON health pages.
//
// The data path runs one way: flags/environment/env file -> Config ->
// Poller -> collectors -> Snapshot -> rendered Pages -> HTTP handlers.

#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "collectors/backup_collector.h"
#include "collectors/config_collector.h"
#include "collectors/database_collector.h"
#include "collectors/process_collector.h"
#include "exporter/build_info.h"
#include "exporter/config.h"
#include "exporter/health_page.h"
#include "exporter/http_server.h"
#include "exporter/landing_page.h"
#include "exporter/logger.h"
#include "exporter/metrics_page.h"
#include "exporter/poller.h"
#include "exporter/router.h"

namespace caloria {
namespace {

constexpr int kExitUsage = 2;

std::optional<std::string> ProcessEnv(const std::string& name) {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

void LogStartup(const Config& config, Logger& logger) {
  logger.Info("starting caloria_exporter", {{"version", kVersion}, {"revision", kRevision}});
  LogFields fields{{"database_type", DatabaseTypeName(config.database_url.type)},
                   {"database_url", config.database_url.Redacted()},
                   {"url_source", ConfigSourceName(config.url_source)},
                   {"url_origin", config.url_origin},
                   {"expected_type", ExpectedTypeName(config.expected_type)},
                   {"expected_type_reason", config.expected_type_reason},
                   {"env_file", config.env_file.value_or("")},
                   {"listen_address", config.listen_address},
                   {"telemetry_path", config.telemetry_path},
                   {"users_query", config.users_query},
                   {"interval", FormatDuration(config.interval)},
                   {"timeout", FormatDuration(config.timeout)}};
  if (config.backup_collector_enabled) {
    fields.emplace_back("backup_dir", config.backup.dir);
    fields.emplace_back("backup_pattern", config.backup.pattern);
    fields.emplace_back("backup_max_age", FormatDuration(config.backup.max_age));
    fields.emplace_back("backup_retention", FormatDuration(config.backup.retention));
  }
  if (config.database_url.type == DatabaseType::kSqlite) {
    fields.emplace_back("sqlite_file",
                        config.database_url.IsSqliteMemory() ? ":memory:" : config.sqlite_path);
  }
  logger.Info("effective configuration", fields);
  for (const auto& warning : config.env_file_warnings) {
    logger.Warn("env file line skipped", {{"file", config.env_file.value_or("")},
                                          {"line", std::to_string(warning.line)},
                                          {"problem", warning.message}});
  }
  for (const auto& problem : config.problems) {
    const LogFields problem_fields{{"check", problem.check}, {"problem", problem.message}};
    if (problem.severity == HealthStatus::kUnhealthy) {
      logger.Error("configuration problem", problem_fields);
    } else {
      logger.Warn("configuration problem", problem_fields);
    }
  }
}

Pages RenderPages(const Snapshot& snapshot, const std::string& telemetry_path) {
  Pages pages;
  pages.metrics = RenderMetricsPage(snapshot);
  pages.health = RenderHealthPage(snapshot, kVersion);
  for (const auto& check : snapshot.checks) {
    pages.checks[check.name] = RenderCheckPage(snapshot, check.name);
  }
  pages.landing = RenderLandingPage(snapshot, telemetry_path, kVersion);
  pages.taken_at = snapshot.taken_at;
  return pages;
}

int Run(const Config& config) {
  Logger logger(std::cerr, config.log_level, config.log_format);
  LogStartup(config, logger);

  // Signals are taken synchronously by the main thread alone; every thread
  // started below inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  PageStore store;
  Poller poller(
      config.interval, config.timeout, BuildInfo{kVersion, kRevision},
      [&config](const Snapshot& snapshot) { return RenderPages(snapshot, config.telemetry_path); },
      store, logger);
  // Order matters: the backup collector compares against the users the
  // database collector counted in the same poll.
  auto live_users = std::make_shared<LiveUserCount>();
  poller.Add(std::make_unique<ConfigCollector>(config));
  poller.Add(std::make_unique<DatabaseCollector>(
      DatabaseTarget{config.database_url, config.sqlite_path, config.users_query}, live_users));
  if (config.backup_collector_enabled) {
    poller.Add(std::make_unique<BackupCollector>(config.backup, live_users,
                                                 [&poller] { poller.RequestPoll(); }));
  }
  poller.Add(std::make_unique<ProcessCollector>());
  poller.PollOnce();

  // Three missed polls, each allowed its full timeout, make the pages stale.
  const Router router(config.telemetry_path, 3 * (config.interval + config.timeout));
  std::unique_ptr<HttpServer> server;
  try {
    server = std::make_unique<HttpServer>(
        config.civetweb_listening_ports,
        [&router, &store](const HttpRequest& request) {
          const auto pages = store.Latest();
          return router.Route(request, pages.get());
        },
        logger);
  } catch (const std::exception& error) {
    logger.Error("cannot start the HTTP server", {{"err", error.what()}});
    return EXIT_FAILURE;
  }
  logger.Info("listening", {{"address", config.listen_address}});
  poller.Start();

  int received = 0;
  sigwait(&signals, &received);
  logger.Info("shutting down", {{"signal", strsignal(received)}});
  poller.Stop();
  server.reset();
  return EXIT_SUCCESS;
}

}  // namespace
}  // namespace caloria

int main(int argc, char** argv) {
  using namespace caloria;
  const std::vector<std::string> args(argv + 1, argv + argc);
  ConfigRequest request;
  try {
    std::error_code ignored;
    const auto cwd = std::filesystem::current_path(ignored).string();
    request = LoadConfig(args, &ProcessEnv, cwd);
  } catch (const ConfigError& error) {
    std::cerr << "caloria_exporter: " << error.what() << "\n";
    return kExitUsage;
  }
  switch (request.kind) {
    case ConfigRequest::Kind::kHelp:
      std::cout << UsageText();
      return EXIT_SUCCESS;
    case ConfigRequest::Kind::kVersion:
      std::cout << "caloria_exporter, version " << kVersion << " (revision: " << kRevision << ")\n";
      return EXIT_SUCCESS;
    case ConfigRequest::Kind::kRun:
      break;
  }
  return Run(request.config);
}
