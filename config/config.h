#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/database_location.h"
#include "config/dotenv.h"
#include "config/flags.h"
#include "config/listen_address.h"
#include "config/web_config.h"
#include "core/duration.h"
#include "core/logger.h"
#include "core/result.h"

namespace caloria {

// How the HTTP server serves: --web.* flags and the web-config file. The
// limits keep slow and idle clients from starving a scrape (docs/security.md).
struct WebSettings {
  WebConfig config;  // from --web.config.file; empty: plain HTTP, no auth
  // Health pages served without basic auth (--web.health-without-auth), for
  // load balancers that cannot send a password.
  std::vector<std::string> health_without_auth;
  int max_connections = 512;
  int max_connections_per_ip = 64;
  Duration read_timeout = std::chrono::seconds(10);  // a whole request, TLS handshake included
  Duration idle_timeout = std::chrono::minutes(2);   // between requests on a kept-alive connection
};

// One app the exporter watches. Without --config.file there is one, the
// app the flags describe, named "" (no target label); with it, one per
// entry of the file.
struct Target {
  std::string name;
  DatabaseLocation database;  // found as that app finds it
  FlagValues flags;           // the command line's, with the target's settings over them
};

// The exporter's own settings, parsed and validated once at startup and
// immutable afterwards. Each collector reads its own flags from `flags`
// (collectors/registry.h); the password lives only in the URL's Secret.
struct Config {
  ListenAddress listen{":9841", "", 9841};
  std::string telemetry_path = "/metrics";
  WebSettings web;
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(5);
  int max_parallel = 4;  // targets polled at once (--collector.max-parallel)
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;

  DatabaseLocation database;  // the app's database, found as the app finds it
  FlagValues flags;           // every flag as given, for the collectors' own settings

  std::string targets_file;     // --config.file, absolute; empty without it
  std::vector<Target> targets;  // never empty: the file's, else the one the flags describe
};

// What one target's collectors see: `config` with that target's database
// and flags in place of the command line's.
Config ConfigForTarget(const Config& config, const Target& target);

// The exporter's own flags, as --help groups them; the collectors add theirs.
std::vector<FlagGroup> ExporterFlagGroups();

// What --help says after the flags: the environment variables read.
// The environment variables the exporter reads, and what each means.
std::vector<std::pair<std::string, std::string>> EnvironmentVariables();
std::string EnvironmentHelp();

// Builds the Config from parsed flags, the process environment and the app's
// env file, with precedence flag > process environment > env file > default.
// A usage error is an Error (one line, with the fix); everything the app
// itself would survive becomes a Problem in config.database.problems.
Result<Config> LoadConfig(const FlagValues& flags, const EnvLookup& process_env,
                          const std::string& current_dir);

}  // namespace caloria
