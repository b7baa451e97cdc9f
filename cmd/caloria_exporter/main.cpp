// caloria_exporter: watches the Caloria app's database and publishes its
// health as Prometheus metrics and JSON health pages.
//
// This file only wires the data path, which runs one way
// (docs/architecture.md): flags/environment/env file -> Config -> Poller ->
// collectors -> Snapshot -> rendered Pages -> HTTP handlers.

#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <memory>

#include "collectors/registry.h"
#include "config/config.h"
#include "config/config_reloader.h"
#include "config/config_store.h"
#include "config/man_page.h"
#include "core/build_info.h"
#include "core/logger.h"
#include "core/thread_guard.h"
#include "http/http_server.h"
#include "http/router.h"
#include "http/web_security.h"
#include "poll/fleet.h"
#include "poll/poller.h"
#include "render/page_store.h"
#include "render/pages.h"

namespace caloria {
namespace {

constexpr int kExitUsage = 2;

std::optional<std::string> ProcessEnv(const std::string& name) {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

int UsageError(const std::string& message) {
  std::cerr << "caloria_exporter: " << message << "\n";
  return kExitUsage;
}

std::vector<FlagGroup> AllFlagGroups() {
  std::vector<FlagGroup> groups = ExporterFlagGroups();
  for (auto& group : BuiltinCollectors().FlagGroups()) groups.push_back(std::move(group));
  return groups;
}

// What caloria_exporter(1) says around the flags (--help-man; the build
// installs its output).
ManPageText ManPageOf() {
  ManPageText text;
  text.program = "caloria_exporter";
  text.version = kVersion;
  text.summary = "Prometheus exporter for the health of the Caloria app's database";
  text.description =
      "caloria_exporter watches a Flask + SQLAlchemy app's database: which type it is "
      "(PostgreSQL or SQLite), whether it answers, its user count, the age, size and "
      "integrity of the latest backup, and a silent fallback to SQLite. It polls every "
      "--collector.interval, each collector under --collector.timeout, and serves what the "
      "last poll found: Prometheus metrics on /metrics, JSON health pages on /health and "
      "/health/CHECK (200 when healthy, 503 when not), and, with --config.file, the same for "
      "each named target on /probe?target=NAME and /health?target=NAME.\n\n"
      "It finds the app's database as the app does: DATABASE_URL from the environment or "
      "from the app's env file (--app.env-file), else the app's SQLite default. A bad flag "
      "or file at start is a one-line error and exit status 2; a problem found while it runs "
      "is a metric and a health page, never an exit.\n\n"
      "SIGHUP and POST /-/reload re-read the env file, the URL file, --config.file and "
      "--web.config.file. The full documentation is in /usr/share/doc/caloria-exporter.";
  text.environment = EnvironmentVariables();
  text.see_also = {"prometheus(1)", "systemd.exec(5)"};
  return text;
}

// The target's database as found, its env file's skipped lines and its
// problems; `extra` goes on the first line.
void LogTarget(const Target& target, const LogFields& extra, Logger& logger) {
  const DatabaseLocation& database = target.database;
  LogFields fields{{"database_type", DatabaseTypeName(database.url.type)},
                   {"database_url", database.url.Redacted()},
                   {"url_source", ConfigSourceName(database.source)},
                   {"url_origin", database.origin},
                   {"expected_type", ExpectedTypeName(database.expected_type)},
                   {"expected_type_reason", database.expected_type_reason},
                   {"env_file", database.env_file.value_or("")}};
  LogFields named;
  if (!target.name.empty()) named.push_back({"target", target.name});
  fields.insert(fields.begin(), named.begin(), named.end());
  fields.insert(fields.end(), extra.begin(), extra.end());
  logger.Info(target.name.empty() ? "effective configuration" : "target", fields);
  for (const auto& warning : database.env_file_warnings) {
    LogFields warned = named;
    warned.insert(warned.end(), {{"file", database.env_file.value_or("")},
                                 {"line", std::to_string(warning.line)},
                                 {"problem", warning.message}});
    logger.Warn("env file line skipped", warned);
  }
  for (const auto& problem : database.problems) {
    LogFields problems = named;
    problems.insert(problems.end(), {{"check", problem.check}, {"problem", problem.message}});
    if (problem.severity == HealthStatus::kUnhealthy) {
      logger.Error("configuration problem", problems);
    } else {
      logger.Warn("configuration problem", problems);
    }
  }
}

void LogStartup(const Config& config, Logger& logger) {
  logger.Info("starting caloria_exporter", {{"version", kVersion}, {"revision", kRevision}});
  LogFields settings{{"listen_address", config.listen.text},
                     {"telemetry_path", config.telemetry_path},
                     {"interval", FormatDuration(config.interval)},
                     {"timeout", FormatDuration(config.timeout)}};
  if (config.targets_file.empty()) {
    LogTarget(config.targets.front(), settings, logger);
    return;
  }
  settings.insert(settings.end(), {{"config_file", config.targets_file},
                                   {"targets", std::to_string(config.targets.size())},
                                   {"max_parallel", std::to_string(config.max_parallel)}});
  logger.Info("effective configuration", settings);
  for (const Target& target : config.targets) LogTarget(target, {}, logger);
}

// `load` reads the configuration again with the startup flags, for reloads.
int Run(const Config& config, const ConfigReloader::Loader& load) {
  Logger logger(std::cerr, config.log_level, config.log_format);

  // Signals are taken synchronously by the main thread alone; every thread
  // started below inherits the blocked mask.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);

  // A web config whose certificate or key cannot be loaded is a usage error,
  // like a malformed one (exit 2).
  Result<std::shared_ptr<const WebSecurity>> security = WebSecurity::Build(config.web);
  if (!security) return UsageError(security.error());

  // A reloaded configuration brings its web config along: the server takes
  // it (rotated certificates, changed users) before the configuration is
  // published, or the whole reload is rejected and the old one kept.
  std::atomic<HttpServer*> serving{nullptr};
  const ConfigReloader::Loader load_and_apply = [&load, &serving]() -> Result<Config> {
    Result<Config> next = load();
    if (!next) return next;
    // Each target's collector flags, checked before the reload is taken: a
    // target that could not be built would keep its old settings unseen.
    for (const Target& target : next->targets) {
      if (Status checked = BuiltinCollectors().CheckFlags(target.flags); !checked) {
        return Fail(target.name.empty() ? checked.error()
                                        : "target " + target.name + ": " + checked.error());
      }
    }
    Result<std::shared_ptr<const WebSecurity>> next_security = WebSecurity::Build(next->web);
    if (!next_security) return Fail(next_security.error());
    if (HttpServer* server = serving.load()) {
      const Status applied = server->UpdateSecurity(std::move(*next_security));
      if (!applied) return Fail(applied.error());
    }
    return next;
  };
  ConfigStore config_store(std::make_shared<const Config>(config));
  ConfigReloader reloader(load_and_apply, config_store, logger);
  PageStore store;
  PageRenderer renderer(config.telemetry_path, kVersion);
  // Declared before the fleet: the fleet's collectors, destroyed first, may
  // still ask the poller for a poll.
  Fleet* fleet_of_poller = nullptr;
  Poller poller(
      {config.interval, config.timeout, config.max_parallel}, BuildInfo{kVersion, kRevision},
      [&fleet_of_poller] { return fleet_of_poller ? fleet_of_poller->Targets() : TargetList{}; },
      [&renderer, &store](const FleetSnapshot& fleet) { store.Publish(renderer.Render(fleet)); },
      logger);
  Fleet fleet({BuiltinCollectors(), config_store, &reloader,
               [&poller](const std::string& target) { poller.RequestPoll(target); }, logger});
  if (Status built = fleet.Build(); !built) return UsageError(built.error());
  LogStartup(config, logger);
  fleet.LogCollectors();
  fleet_of_poller = &fleet;
  poller.PollOnce();

  // A reload is seen at the next poll, asked for at once.
  const auto reload = [&reloader, &poller](const std::string& why) {
    Status reloaded = reloader.Reload(why);
    poller.RequestPoll();
    return reloaded;
  };
  // Three missed polls, each allowed its full timeout, make the pages stale.
  const Router router(config.telemetry_path, 3 * (config.interval + config.timeout),
                      [&reload] { return reload("POST /-/reload"); });
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(
      config.listen, config.web, std::move(*security),
      [&router, &store](const HttpRequest& request) {
        const auto pages = store.Latest();
        return router.Route(request, pages.get());
      },
      logger);
  if (!server) {
    logger.Error("cannot start the HTTP server", {{"err", server.error()}});
    return EXIT_FAILURE;
  }
  serving = server->get();
  logger.Info("listening",
              {{"address", config.listen.text},
               {"tls", config.web.config.tls ? "true" : "false"},
               {"basic_auth", config.web.config.basic_auth_users.empty() ? "false" : "true"}});
  poller.Start();

  int received = 0;
  while (sigwait(&signals, &received) == 0 && received == SIGHUP) {
    static_cast<void>(reload("SIGHUP"));
  }
  logger.Info("shutting down", {{"signal", strsignal(received)}});
  poller.Stop();
  fleet_of_poller = nullptr;
  serving = nullptr;
  server->reset();
  return EXIT_SUCCESS;
}

int Main(const std::vector<std::string>& args) {
  const std::vector<FlagGroup> groups = AllFlagGroups();
  const Result<CommandLine> command = ParseCommandLine(args, groups);
  if (!command) return UsageError(command.error());
  switch (command->kind) {
    case CommandLine::Kind::kHelp:
      std::cout << UsageText(
          "usage: caloria_exporter [<flags>]\n\n"
          "Prometheus exporter for the health of the Caloria app's database.\n\n",
          groups, EnvironmentHelp());
      return EXIT_SUCCESS;
    case CommandLine::Kind::kHelpMan:
      std::cout << ManPage(ManPageOf(), groups);
      return EXIT_SUCCESS;
    case CommandLine::Kind::kVersion:
      std::cout << "caloria_exporter, version " << kVersion << " (revision: " << kRevision << ")\n";
      return EXIT_SUCCESS;
    case CommandLine::Kind::kRun:
      break;
  }
  std::error_code ignored;
  const auto cwd = std::filesystem::current_path(ignored).string();
  const ConfigReloader::Loader load = [flags = command->flags, cwd] {
    return LoadConfig(flags, &ProcessEnv, cwd);
  };
  const Result<Config> config = load();
  if (!config) return UsageError(config.error());
  return Run(*config, load);
}

}  // namespace
}  // namespace caloria

int main(int argc, char** argv) {
  return caloria::GuardedMain("caloria_exporter", argc, argv, caloria::Main);
}
