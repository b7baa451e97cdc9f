#include "config/config.h"

namespace caloria {

std::vector<FlagGroup> ExporterFlagGroups() {
  return {
      {"Web",
       std::nullopt,
       {{"web.listen-address", "ADDRESS",
         "Address on which to expose metrics and health pages (default \":9841\")."},
        {"web.telemetry-path", "PATH",
         "Path under which to expose metrics (default \"/metrics\")."}}},
      {"The app's database", std::nullopt, DatabaseLocationFlags()},
      {"Polling",
       std::nullopt,
       {{"collector.interval", "DURATION", "How often collectors run (default 15s)."},
        {"collector.timeout", "DURATION",
         "Deadline for each collector run, every database call included (default 5s)."}}},
      {"Logging",
       std::nullopt,
       {{"log.level", "LEVEL", "debug, info, warn or error (default info)."},
        {"log.format", "FORMAT", "logfmt or json (default logfmt)."}}},
  };
}

std::string EnvironmentHelp() {
  return "\nEnvironment (also read from --app.env-file; the process environment wins):\n"
         "  DATABASE_URL       SQLAlchemy URL of the app's database.\n"
         "  DATABASE_URL_FILE  File holding DATABASE_URL (relative to the app's folder).\n"
         "  FLASK_ENV, APP_ENV production makes postgresql the expected database type.\n";
}

Result<Config> LoadConfig(const FlagValues& flags, const EnvLookup& process_env,
                          const std::string& current_dir) {
  Config config;
  config.flags = flags;
  if (auto value = flags.Get("web.listen-address")) {
    Result<ListenAddress> listen = ParseListenAddress(*value);
    if (!listen) return Fail(listen.error());
    config.listen = *listen;
  }
  if (auto value = flags.Get("web.telemetry-path")) {
    if (value->empty() || value->front() != '/' || *value == "/" ||
        value->rfind("/health", 0) == 0) {
      return Fail("--web.telemetry-path='" + *value +
                  "' must start with / and not be / or under /health: e.g. /metrics");
    }
    config.telemetry_path = *value;
  }
  const Result<Duration> interval =
      PositiveDurationFlag(flags, "collector.interval", config.interval);
  if (!interval) return Fail(interval.error());
  config.interval = *interval;
  const Result<Duration> timeout = PositiveDurationFlag(flags, "collector.timeout", config.timeout);
  if (!timeout) return Fail(timeout.error());
  config.timeout = *timeout;
  if (config.timeout > config.interval) {
    return Fail("--collector.timeout=" + FormatDuration(config.timeout) +
                " exceeds --collector.interval=" + FormatDuration(config.interval) +
                ": make the timeout at most the interval");
  }
  if (auto value = flags.Get("log.level")) {
    const auto level = ParseLogLevel(*value);
    if (!level) return Fail("--log.level='" + *value + "': use debug, info, warn or error");
    config.log_level = *level;
  }
  if (auto value = flags.Get("log.format")) {
    const auto format = ParseLogFormat(*value);
    if (!format) return Fail("--log.format='" + *value + "': use logfmt or json");
    config.log_format = *format;
  }
  Result<DatabaseLocation> database = LocateDatabase(flags, process_env, current_dir);
  if (!database) return Fail(database.error());
  config.database = std::move(*database);
  return config;
}

}  // namespace caloria
