#include "exporter/config.h"

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>

namespace caloria {
namespace {

namespace fs = std::filesystem;

constexpr const char* kFallbackUrl = "sqlite:///caloria.db";

struct Flag {
  const char* name;
  const char* value_name;
  const char* help;
};

// The single list of flags: parsing, validation and --help all read it.
constexpr Flag kFlags[] = {
    {"web.listen-address", "ADDRESS",
     "Address on which to expose metrics and health pages (default \":9841\")."},
    {"web.telemetry-path", "PATH", "Path under which to expose metrics (default \"/metrics\")."},
    {"app.env-file", "PATH",
     "The Caloria app's .env file; read with python-dotenv rules. Its folder is the app's folder."},
    {"database.url-file", "PATH",
     "File holding the SQLAlchemy database URL; overrides DATABASE_URL and DATABASE_URL_FILE."},
    {"database.users-query", "SQL",
     "Single read-only SELECT returning the number of users (default \"SELECT count(*) FROM "
     "users\")."},
    {"database.expected-type", "TYPE",
     "postgresql, sqlite or any (default postgresql when FLASK_ENV or APP_ENV is production, "
     "else any)."},
    {"database.sqlite-relative-to", "WHERE",
     "instance (Flask-SQLAlchemy 3: APP/instance/) or app (2.x: APP/) for relative SQLite "
     "paths (default instance)."},
    {"collector.interval", "DURATION", "How often collectors run (default 15s)."},
    {"collector.timeout", "DURATION",
     "Deadline for each collector run, every database call included (default 5s)."},
    {"backup.dir", "PATH", "Folder holding the backups (default /var/backups/caloria)."},
    {"backup.pattern", "GLOB",
     "Backup file names to consider, a shell glob (default \"caloria_*.sql.gz\"; e.g. "
     "\"caloria_*.db\" for SQLite copies)."},
    {"backup.max-age", "DURATION",
     "Age beyond which the latest backup makes the backup check unhealthy (default 26h)."},
    {"backup.retention", "DURATION",
     "Backups older than this count as retention violations (default 7d)."},
    {"backup.log", "PATH", "The backup script's log, to export its last success and error."},
    {"backup.users-table", "NAME", "The users table counted inside backups (default users)."},
    {"backup.verify-timeout", "DURATION",
     "Deadline for verifying one backup file, in the background (default 10m)."},
    {"log.level", "LEVEL", "debug, info, warn or error (default info)."},
    {"log.format", "FORMAT", "logfmt or json (default logfmt)."},
};

bool IsKnownFlag(const std::string& name) {
  return std::any_of(std::begin(kFlags), std::end(kFlags),
                     [&](const Flag& flag) { return name == flag.name; });
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

using Flags = std::map<std::string, std::string>;

std::optional<std::string> FlagValue(const Flags& flags, const std::string& name) {
  if (auto it = flags.find(name); it != flags.end()) return it->second;
  return std::nullopt;
}

// Flags as node_exporter takes them: --name=value or --name value.
Flags ParseFlags(const std::vector<std::string>& args, ConfigRequest::Kind& kind) {
  Flags flags;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      kind = ConfigRequest::Kind::kHelp;
      continue;
    }
    if (arg == "--version") {
      kind = ConfigRequest::Kind::kVersion;
      continue;
    }
    // Collectors are switched as in node_exporter: --collector.NAME and
    // --no-collector.NAME.
    if (arg == "--collector.backup" || arg == "--no-collector.backup") {
      flags["collector.backup"] = arg == "--collector.backup" ? "true" : "false";
      continue;
    }
    if (arg.rfind("--", 0) != 0) {
      throw ConfigError("unexpected argument '" + arg +
                        "': flags are written --name=value, see --help");
    }
    const auto equals = arg.find('=');
    std::string name = arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    if (!IsKnownFlag(name)) {
      throw ConfigError("unknown flag --" + name +
                        ": see --help for the flags this exporter takes");
    }
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      throw ConfigError("flag --" + name + " needs a value: write --" + name + "=VALUE");
    }
    flags[name] = value;
  }
  return flags;
}

// Regular files only: a directory opens and reads as empty on Linux, and
// python-dotenv skips anything that is not a file.
std::optional<std::string> ReadWholeFile(const std::string& path) {
  std::error_code error;
  if (!fs::is_regular_file(path, error)) return std::nullopt;
  std::ifstream in(path, std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream contents;
  contents << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return contents.str();
}

Duration ParseDurationFlag(const Flags& flags, const std::string& name, Duration fallback) {
  const auto value = FlagValue(flags, name);
  if (!value) return fallback;
  const auto parsed = ParseDuration(*value);
  if (!parsed || parsed->count() <= 0) {
    throw ConfigError("--" + name + "='" + *value +
                      "' is not a positive duration: write it like 15s, 500ms or 1m30s");
  }
  return *parsed;
}

// ":9841" -> "9841", "127.0.0.1:9841" -> "127.0.0.1:9841", "[::1]:9841" -> "[::1]:9841".
std::string ToCivetwebPorts(const std::string& address) {
  const auto colon = address.rfind(':');
  if (colon == std::string::npos) {
    throw ConfigError("--web.listen-address='" + address +
                      "' has no port: write it as HOST:PORT or :PORT, e.g. :9841");
  }
  const std::string host = address.substr(0, colon);
  const std::string port = address.substr(colon + 1);
  const bool numeric =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](unsigned char c) { return std::isdigit(c); });
  if (!numeric || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    throw ConfigError("--web.listen-address='" + address +
                      "' has an invalid port: use a number from 1 to 65535, e.g. :9841");
  }
  if (host.empty()) return port;
  if (host.front() == '[' && host.back() == ']')
    return "[" + host.substr(1, host.size() - 2) + "]:" + port;
  if (host.find(':') != std::string::npos) {
    throw ConfigError("--web.listen-address='" + address +
                      "': put an IPv6 address in brackets, e.g. [::1]:9841");
  }
  return host + ":" + port;
}

// Only a single SELECT (or WITH ... SELECT) is accepted: the query runs with
// the exporter's credentials, and one statement is all the extended query
// protocol and sqlite3_prepare run anyway.
std::string ValidateUsersQuery(const std::string& query) {
  std::string trimmed = Trim(query);
  while (!trimmed.empty() && trimmed.back() == ';')
    trimmed = Trim(trimmed.substr(0, trimmed.size() - 1));
  const std::string lowered = Lower(trimmed);
  if (trimmed.empty()) {
    throw ConfigError(
        "--database.users-query is empty: give a SELECT returning one number, e.g. "
        "SELECT count(*) FROM users");
  }
  if (trimmed.find(';') != std::string::npos) {
    throw ConfigError(
        "--database.users-query holds more than one statement: give a single "
        "SELECT returning one number");
  }
  if (lowered.rfind("select", 0) != 0 && lowered.rfind("with", 0) != 0) {
    throw ConfigError(
        "--database.users-query must be a read-only SELECT: write e.g. SELECT "
        "count(*) FROM users");
  }
  return trimmed;
}

// One variable looked up with the app's precedence: process environment
// first (python-dotenv's load_dotenv does not override it), then the env file.
struct Lookup {
  const EnvLookup& process_env;
  const DotenvFile& env_file;

  struct Found {
    std::string value;
    ConfigSource source;
  };
  std::optional<Found> Get(const std::string& name) const {
    if (auto found = FromProcess(name)) return found;
    return FromEnvFile(name);
  }
  std::optional<Found> FromProcess(const std::string& name) const {
    if (auto value = process_env(name)) return Found{*value, ConfigSource::kEnvironment};
    return std::nullopt;
  }
  std::optional<Found> FromEnvFile(const std::string& name) const {
    if (auto it = env_file.values.find(name); it != env_file.values.end()) {
      return Found{it->second, ConfigSource::kEnvFile};
    }
    return std::nullopt;
  }
};

std::string DescribeSource(ConfigSource source, const std::string& variable,
                           const std::optional<std::string>& env_file) {
  switch (source) {
    case ConfigSource::kFlag:
      return "--" + variable;
    case ConfigSource::kEnvironment:
      return "the environment variable " + variable;
    case ConfigSource::kEnvFile:
      return variable + " in the env file " + env_file.value_or("");
    case ConfigSource::kDefault:
      return "the app's default";
  }
  return variable;
}

std::string ReadUrlFile(const std::string& path, const std::string& origin) {
  const auto contents = ReadWholeFile(path);
  if (!contents) {
    throw ConfigError("cannot read the database URL file " + path + " (named by " + origin +
                      "): check the path and its permissions");
  }
  return Trim(*contents);
}

void LoadEnvFile(Config& config, const std::string& path, const EnvLookup& process_env,
                 const std::string& current_dir, DotenvFile& env_file) {
  const fs::path absolute = fs::absolute(fs::path(current_dir) / path).lexically_normal();
  config.env_file = absolute.string();
  config.app_dir = absolute.parent_path().string();
  const auto contents = ReadWholeFile(absolute.string());
  if (!contents) {
    config.problems.push_back(
        {"env_file_unreadable",
         "cannot read the app's env file " + absolute.string() +
             ": check that it exists and that the exporter's user may read it (the app would "
             "start without it, as in the incident this exporter exists for)",
         HealthStatus::kDegraded});
    return;
  }
  env_file = ParseDotenv(*contents, process_env);
  config.env_file_warnings = env_file.warnings;
  if (!env_file.warnings.empty()) {
    const auto& first = env_file.warnings.front();
    config.problems.push_back({"env_file_malformed",
                               "the env file " + absolute.string() + " has " +
                                   std::to_string(env_file.warnings.size()) +
                                   " line(s) python-dotenv skips, first at line " +
                                   std::to_string(first.line) + ": " + first.message,
                               HealthStatus::kDegraded});
  }
}

struct UrlVariable {
  std::string variable;  // DATABASE_URL or DATABASE_URL_FILE
  std::string value;
  ConfigSource source;
};

// Level by level: both variables in the process environment, then both in
// the env file. An empty value counts as unset, as `os.getenv(...) or
// default` in the app treats it.
std::optional<UrlVariable> FindUrlVariable(const Lookup& lookup) {
  for (const bool process : {true, false}) {
    for (const char* variable : {"DATABASE_URL", "DATABASE_URL_FILE"}) {
      const auto found = process ? lookup.FromProcess(variable) : lookup.FromEnvFile(variable);
      if (found && !Trim(found->value).empty()) {
        return UrlVariable{variable, found->value, found->source};
      }
    }
  }
  return std::nullopt;
}

void ResolveDatabaseUrl(Config& config, const Flags& flags, const Lookup& lookup,
                        const std::string& current_dir) {
  std::string url;
  if (auto path = FlagValue(flags, "database.url-file")) {
    config.url_source = ConfigSource::kFlag;
    config.url_origin = "--database.url-file";
    url = ReadUrlFile((fs::path(current_dir) / *path).string(), config.url_origin);
  } else if (auto found = FindUrlVariable(lookup)) {
    config.url_source = found->source;
    config.url_origin = DescribeSource(found->source, found->variable, config.env_file);
    if (found->variable == "DATABASE_URL") {
      url = found->value;
    } else {
      url = ReadUrlFile((fs::path(current_dir) / config.app_dir / found->value).string(),
                        config.url_origin);
    }
  } else {
    config.url_source = ConfigSource::kDefault;
    config.url_origin = "the app's default";
    url = kFallbackUrl;
    config.problems.push_back(
        {"database_url_missing",
         std::string("DATABASE_URL is not set") +
             (config.env_file ? " in the environment nor in " + *config.env_file : "") +
             ": the app falls back to " + kFallbackUrl +
             "; set DATABASE_URL in the app's env file (and make sure the app loads it)",
         HealthStatus::kDegraded});
  }
  try {
    config.database_url = ParseSqlalchemyUrl(url);
  } catch (const UrlError& error) {
    throw ConfigError(std::string(error.what()) + " (read from " + config.url_origin + ")");
  }
  if (config.database_url.type == DatabaseType::kPostgresql &&
      config.database_url.dialect == "postgres") {
    config.problems.push_back(
        {"database_url_deprecated_scheme",
         "DATABASE_URL starts with postgres://, which SQLAlchemy 1.4 and later refuse: write "
         "postgresql:// instead",
         HealthStatus::kDegraded});
  }
}

void LoadBackupSettings(BackupSettings& backup, const Flags& flags) {
  if (auto dir = FlagValue(flags, "backup.dir")) {
    if (dir->empty()) throw ConfigError("--backup.dir is empty: give the backup folder");
    backup.dir = *dir;
  }
  if (auto pattern = FlagValue(flags, "backup.pattern")) {
    if (pattern->empty() || pattern->find('/') != std::string::npos) {
      throw ConfigError("--backup.pattern='" + *pattern +
                        "' must be a file name glob without /, e.g. caloria_*.sql.gz");
    }
    backup.pattern = *pattern;
  }
  backup.max_age = ParseDurationFlag(flags, "backup.max-age", backup.max_age);
  backup.retention = ParseDurationFlag(flags, "backup.retention", backup.retention);
  backup.verify_timeout = ParseDurationFlag(flags, "backup.verify-timeout", backup.verify_timeout);
  if (auto log = FlagValue(flags, "backup.log"); log && !log->empty()) backup.log_path = *log;
  if (auto table = FlagValue(flags, "backup.users-table")) {
    if (table->empty()) throw ConfigError("--backup.users-table is empty: e.g. users");
    backup.users_table = *table;
  }
}

void ResolveSqlitePath(Config& config) {
  if (config.database_url.type != DatabaseType::kSqlite || config.database_url.IsSqliteMemory()) {
    return;
  }
  const fs::path file(config.database_url.database);
  if (file.is_absolute()) {
    config.sqlite_path = file.lexically_normal().string();
    return;
  }
  fs::path base(config.app_dir);
  if (config.sqlite_relative_to == SqliteRelativeTo::kInstance) base /= "instance";
  config.sqlite_path = (base / file).lexically_normal().string();
}

void ResolveExpectedType(Config& config, const Flags& flags, const Lookup& lookup) {
  if (auto expected = FlagValue(flags, "database.expected-type")) {
    const std::string& value = *expected;
    if (value == "postgresql") {
      config.expected_type = ExpectedType::kPostgresql;
    } else if (value == "sqlite") {
      config.expected_type = ExpectedType::kSqlite;
    } else if (value == "any") {
      config.expected_type = ExpectedType::kAny;
    } else {
      throw ConfigError("--database.expected-type='" + value +
                        "' is not known: use postgresql, sqlite or any");
    }
    config.expected_type_reason = "--database.expected-type";
    return;
  }
  for (const char* variable : {"FLASK_ENV", "APP_ENV"}) {
    if (auto found = lookup.Get(variable); found && Lower(Trim(found->value)) == "production") {
      config.expected_type = ExpectedType::kPostgresql;
      config.expected_type_reason = std::string(variable) + "=production";
      return;
    }
  }
  config.expected_type = ExpectedType::kAny;
  config.expected_type_reason = "no production environment declared";
}

void CheckExpectedType(Config& config) {
  if (config.expected_type == ExpectedType::kAny) return;
  const std::string actual = DatabaseTypeName(config.database_url.type);
  const std::string expected = ExpectedTypeName(config.expected_type);
  if (actual == expected) return;
  std::string message = "the app's database is " + actual + " but " + expected + " is expected (" +
                        config.expected_type_reason + ")";
  if (config.url_source == ConfigSource::kDefault) {
    message += ": the app has silently fallen back to SQLite because DATABASE_URL is missing";
  }
  message += "; point DATABASE_URL at the " + expected +
             " database in the app's env file and restart the app";
  config.problems.push_back({"database_type_unexpected", message, HealthStatus::kUnhealthy});
}

}  // namespace

const char* ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kFlag:
      return "flag";
    case ConfigSource::kEnvironment:
      return "environment";
    case ConfigSource::kEnvFile:
      return "env_file";
    case ConfigSource::kDefault:
      return "default";
  }
  return "default";
}

const char* ExpectedTypeName(ExpectedType type) {
  switch (type) {
    case ExpectedType::kPostgresql:
      return "postgresql";
    case ExpectedType::kSqlite:
      return "sqlite";
    case ExpectedType::kAny:
      return "any";
  }
  return "any";
}

ConfigRequest LoadConfig(const std::vector<std::string>& args, const EnvLookup& process_env,
                         const std::string& current_dir) {
  ConfigRequest request;
  const auto flags = ParseFlags(args, request.kind);
  if (request.kind != ConfigRequest::Kind::kRun) return request;
  Config& config = request.config;
  const auto flag = [&flags](const std::string& name) { return FlagValue(flags, name); };

  if (auto value = flag("web.listen-address")) config.listen_address = *value;
  config.civetweb_listening_ports = ToCivetwebPorts(config.listen_address);
  if (auto value = flag("web.telemetry-path")) {
    if (value->empty() || value->front() != '/' || *value == "/" ||
        value->rfind("/health", 0) == 0) {
      throw ConfigError("--web.telemetry-path='" + *value +
                        "' must start with / and not be / or under /health: e.g. /metrics");
    }
    config.telemetry_path = *value;
  }
  if (auto value = flag("database.users-query")) config.users_query = *value;
  config.users_query = ValidateUsersQuery(config.users_query);
  config.interval = ParseDurationFlag(flags, "collector.interval", config.interval);
  config.timeout = ParseDurationFlag(flags, "collector.timeout", config.timeout);
  if (config.timeout > config.interval) {
    throw ConfigError("--collector.timeout=" + FormatDuration(config.timeout) +
                      " exceeds --collector.interval=" + FormatDuration(config.interval) +
                      ": make the timeout at most the interval");
  }
  if (auto value = flag("log.level")) {
    const auto level = ParseLogLevel(*value);
    if (!level) throw ConfigError("--log.level='" + *value + "': use debug, info, warn or error");
    config.log_level = *level;
  }
  if (auto value = flag("log.format")) {
    const auto format = ParseLogFormat(*value);
    if (!format) throw ConfigError("--log.format='" + *value + "': use logfmt or json");
    config.log_format = *format;
  }
  if (auto value = flag("database.sqlite-relative-to")) {
    if (*value == "instance") {
      config.sqlite_relative_to = SqliteRelativeTo::kInstance;
    } else if (*value == "app") {
      config.sqlite_relative_to = SqliteRelativeTo::kApp;
    } else {
      throw ConfigError("--database.sqlite-relative-to='" + *value +
                        "': use instance (Flask-SQLAlchemy 3) or app (Flask-SQLAlchemy 2)");
    }
  }

  config.backup_collector_enabled = flag("collector.backup").value_or("true") == "true";
  LoadBackupSettings(config.backup, flags);

  config.app_dir = current_dir;
  DotenvFile env_file;
  if (auto path = flag("app.env-file")) {
    if (path->empty())
      throw ConfigError("--app.env-file is empty: give the path of the app's .env");
    LoadEnvFile(config, *path, process_env, current_dir, env_file);
  }
  const Lookup lookup{process_env, env_file};
  ResolveDatabaseUrl(config, flags, lookup, current_dir);
  ResolveSqlitePath(config);
  ResolveExpectedType(config, flags, lookup);
  CheckExpectedType(config);
  return request;
}

std::string UsageText() {
  std::ostringstream out;
  out << "usage: caloria_exporter [<flags>]\n\n"
         "Prometheus exporter for the health of the Caloria app's database.\n\n"
         "Flags:\n"
         "  -h, --help     Show this help and exit.\n"
         "      --version  Show the version and exit.\n";
  for (const Flag& flag : kFlags) {
    out << "      --" << flag.name << "=" << flag.value_name << "\n          " << flag.help << "\n";
  }
  out << "      --[no-]collector.backup\n          Enable the backup collector (default "
         "enabled).\n";
  out << "\nEnvironment (also read from --app.env-file; the process environment wins):\n"
         "  DATABASE_URL       SQLAlchemy URL of the app's database.\n"
         "  DATABASE_URL_FILE  File holding DATABASE_URL (relative to the app's folder).\n"
         "  FLASK_ENV, APP_ENV production makes postgresql the expected database type.\n";
  return out.str();
}

}  // namespace caloria
