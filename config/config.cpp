#include "config/config.h"

#include <algorithm>
#include <array>
#include <filesystem>

#include "config/targets_file.h"

namespace caloria {

std::vector<FlagGroup> ExporterFlagGroups() {
  return {
      {"Web",
       std::nullopt,
       {{"web.listen-address", "ADDRESS",
         "Address on which to expose metrics and health pages (default \":9841\")."},
        {"web.telemetry-path", "PATH",
         "Path under which to expose metrics (default \"/metrics\")."},
        {"web.config.file", "PATH",
         "Web configuration file, as Prometheus and its exporters read it: TLS, client "
         "certificates, basic auth, response headers (docs/security.md; default none: plain "
         "HTTP, no auth)."},
        {"web.health-without-auth", "PATHS",
         "Comma-separated health pages served without basic auth, for load balancers, e.g. "
         "/health,/health/database (default none)."},
        {"web.max-connections", "N",
         "Open connections at most; more are answered 503 and closed (default 512)."},
        {"web.max-connections-per-ip", "N",
         "Open connections from one client address at most; more are answered 503 and closed "
         "(default 64)."},
        {"web.read-timeout", "DURATION",
         "Time a client has to send a whole request once it starts, TLS handshake included "
         "(default 10s)."},
        {"web.idle-timeout", "DURATION",
         "How long a kept-alive connection may wait for its next request (default 2m)."}}},
      {"The app's database", std::nullopt, DatabaseLocationFlags()},
      {"Many apps",
       std::nullopt,
       {{"config.file", "PATH",
         "YAML file naming the apps to watch, each as a target with its own database, backups "
         "and app (docs/configuration.md#many-targets; default none: the one app the flags "
         "describe). The other flags of an app are the default of every target."}}},
      {"Polling",
       std::nullopt,
       {{"collector.interval", "DURATION",
         "How often collectors run (default 15s, or the timeout when that is longer)."},
        {"collector.timeout", "DURATION",
         "Deadline for each collector run, every database call included (default 5s, or the "
         "interval when that is shorter)."},
        {"collector.max-parallel", "N",
         "Targets polled at the same time at most, each on its own connection (default 4)."}}},
      {"Logging",
       std::nullopt,
       {{"log.level", "LEVEL", "debug, info, warn or error (default info)."},
        {"log.format", "FORMAT", "logfmt or json (default logfmt)."}}},
  };
}

std::vector<std::pair<std::string, std::string>> EnvironmentVariables() {
  return {{"DATABASE_URL", "SQLAlchemy URL of the app's database."},
          {"DATABASE_URL_FILE", "File holding DATABASE_URL (relative to the app's folder)."},
          {"FLASK_ENV, APP_ENV", "production makes postgresql the expected database type."}};
}

std::string EnvironmentHelp() {
  std::string text =
      "\nEnvironment (also read from --app.env-file; the process environment wins):\n";
  for (const auto& [name, meaning] : EnvironmentVariables()) {
    text += "  " + name + std::string(name.size() < 18 ? 18 - name.size() : 0, ' ') + " " +
            meaning + "\n";
  }
  return text;
}

namespace {

// --web.health-without-auth: only health pages may be exempted, never
// /metrics or the reload endpoint.
Result<std::vector<std::string>> ParseHealthWithoutAuth(const std::string& text) {
  std::vector<std::string> paths;
  std::size_t start = 0;
  while (start <= text.size()) {
    const std::size_t comma = std::min(text.find(',', start), text.size());
    std::string path = text.substr(start, comma - start);
    start = comma + 1;
    if (path.empty()) continue;
    const bool health = path == "/health" || (path.rfind("/health/", 0) == 0 && path.size() > 8 &&
                                              path.find_first_of("/?#", 8) == std::string::npos);
    if (!health) {
      return Fail("--web.health-without-auth names '" + path +
                  "', which is not a health page: list only /health and /health/CHECK pages, "
                  "e.g. /health,/health/database");
    }
    paths.push_back(std::move(path));
  }
  return paths;
}

Result<WebSettings> LoadWebSettings(const FlagValues& flags, const std::string& current_dir) {
  WebSettings web;
  if (auto file = flags.Get("web.config.file")) {
    if (file->empty()) return Fail("--web.config.file is empty: give the file's path or drop it");
    const std::string path = file->front() == '/' ? *file : current_dir + "/" + *file;
    Result<WebConfig> config = LoadWebConfig(path);
    if (!config) return Fail(config.error());
    web.config = std::move(*config);
  }
  if (auto value = flags.Get("web.health-without-auth")) {
    Result<std::vector<std::string>> paths = ParseHealthWithoutAuth(*value);
    if (!paths) return Fail(paths.error());
    web.health_without_auth = std::move(*paths);
  }
  const Result<long long> max_connections =
      IntegerFlag(flags, "web.max-connections", web.max_connections, 1, 1000000);
  if (!max_connections) return Fail(max_connections.error());
  web.max_connections = static_cast<int>(*max_connections);
  const Result<long long> per_ip =
      IntegerFlag(flags, "web.max-connections-per-ip", web.max_connections_per_ip, 1, 1000000);
  if (!per_ip) return Fail(per_ip.error());
  web.max_connections_per_ip = static_cast<int>(*per_ip);
  const Result<Duration> read_timeout =
      PositiveDurationFlag(flags, "web.read-timeout", web.read_timeout);
  if (!read_timeout) return Fail(read_timeout.error());
  web.read_timeout = *read_timeout;
  const Result<Duration> idle_timeout =
      PositiveDurationFlag(flags, "web.idle-timeout", web.idle_timeout);
  if (!idle_timeout) return Fail(idle_timeout.error());
  web.idle_timeout = *idle_timeout;
  return web;
}

// The flags that say where one app's database is: with a targets file each
// target says it for itself, and one value on the command line for all of
// them would point every target at the same database.
constexpr std::array<const char*, 2> kPerTargetOnly = {"app.env-file", "database.url-file"};

// --config.file: one Target per entry, each found as its app finds its
// database, from the target's own env file, URL file or url alone: the
// exporter's environment (DATABASE_URL, FLASK_ENV) is not the apps'.
Status LoadTargets(const std::string& file, const FlagValues& flags, const std::string& current_dir,
                   Config& config) {
  for (const char* flag : kPerTargetOnly) {
    if (flags.Get(flag)) {
      return Fail(std::string("--") + flag +
                  " cannot be combined with --config.file: give each target its own in the file "
                  "(env_file, url_file)");
    }
  }
  const std::string path = file.empty() || file.front() == '/' ? file : current_dir + "/" + file;
  Result<TargetsFile> targets = LoadTargetsFile(path);
  if (!targets) return Fail(targets.error());
  config.targets_file = targets->path;
  const std::string folder = std::filesystem::path(targets->path).parent_path().string();
  for (const TargetSpec& spec : targets->targets) {
    FlagValues merged = flags;
    merged.Unset("config.file");
    spec.settings.ForEach(
        [&merged](const std::string& name, const std::string& value) { merged.Set(name, value); });
    const EnvLookup target_env = [&spec](const std::string& name) -> std::optional<std::string> {
      if (name == "DATABASE_URL" && spec.url) return spec.url->Reveal();
      return std::nullopt;
    };
    // Relative paths (a relative sqlite:/// url, DATABASE_URL_FILE in no env
    // file) are the file's, as its other paths are.
    Result<DatabaseLocation> database =
        LocateDatabase(merged, target_env, folder, ConfigSource::kConfigFile);
    if (!database) {
      std::string error = database.error();
      if (spec.url) error = spec.url->ScrubFrom(error);
      return Fail("--config.file " + targets->path + ": target " + spec.name + ": " + error);
    }
    if (database->source == ConfigSource::kConfigFile) {
      database->origin = "the url of target " + spec.name + " in " + targets->path;
    }
    database->files_read.push_back(targets->path);
    config.targets.push_back({spec.name, std::move(*database), std::move(merged)});
  }
  config.database = config.targets.front().database;
  return {};
}

}  // namespace

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
  Result<WebSettings> web = LoadWebSettings(flags, current_dir);
  if (!web) return Fail(web.error());
  config.web = std::move(*web);
  const Result<Duration> interval =
      PositiveDurationFlag(flags, "collector.interval", config.interval);
  if (!interval) return Fail(interval.error());
  config.interval = *interval;
  const Result<Duration> timeout = PositiveDurationFlag(flags, "collector.timeout", config.timeout);
  if (!timeout) return Fail(timeout.error());
  config.timeout = *timeout;
  // A default gives way to the value the user set: the timeout a user never
  // set follows the interval (--collector.interval=2s polls under 2 s), and
  // the interval a user never set makes room for the timeout. Only two values
  // the user set and that contradict each other are an error.
  const bool interval_set = flags.Get("collector.interval").has_value();
  const bool timeout_set = flags.Get("collector.timeout").has_value();
  if (config.timeout > config.interval) {
    if (!timeout_set) {
      config.timeout = config.interval;
    } else if (!interval_set) {
      config.interval = config.timeout;
    } else {
      return Fail("--collector.timeout=" + FormatDuration(config.timeout) +
                  " exceeds --collector.interval=" + FormatDuration(config.interval) +
                  ": make the timeout at most the interval");
    }
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
  const Result<long long> max_parallel =
      IntegerFlag(flags, "collector.max-parallel", config.max_parallel, 1, 64);
  if (!max_parallel) return Fail(max_parallel.error());
  config.max_parallel = static_cast<int>(*max_parallel);
  if (auto file = flags.Get("config.file")) {
    Status targets = LoadTargets(*file, flags, current_dir, config);
    if (!targets) return Fail(targets.error());
    return config;
  }
  Result<DatabaseLocation> database = LocateDatabase(flags, process_env, current_dir);
  if (!database) return Fail(database.error());
  config.database = std::move(*database);
  config.targets.push_back({"", config.database, flags});
  return config;
}

Config ConfigForTarget(const Config& config, const Target& target) {
  Config one = config;
  one.database = target.database;
  one.flags = target.flags;
  one.targets = {target};
  return one;
}

}  // namespace caloria
