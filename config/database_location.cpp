#include "config/database_location.h"

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "core/bounded_file.h"

namespace caloria {
namespace {

namespace fs = std::filesystem;

// A URL file holds one URL; anything larger is the wrong file.
constexpr std::size_t kMaxUrlFileBytes = 64 * 1024;

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

// One variable looked up with the app's precedence: process environment
// first (python-dotenv's load_dotenv does not override it), then the env file.
struct Lookup {
  const EnvLookup& process_env;
  const DotenvFile& env_file;
  ConfigSource process_source;  // kConfigFile: a target's url stands in for the environment

  struct Found {
    std::string value;
    ConfigSource source;
  };
  std::optional<Found> Get(const std::string& name) const {
    if (auto found = FromProcess(name)) return found;
    return FromEnvFile(name);
  }
  std::optional<Found> FromProcess(const std::string& name) const {
    if (auto value = process_env(name)) return Found{*value, process_source};
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
    case ConfigSource::kConfigFile:
      return "the target's url in --config.file";  // LoadTargets names the target and file
    case ConfigSource::kDefault:
      return "the app's default";
  }
  return variable;
}

Result<std::string> ReadUrlFile(DatabaseLocation& location, const std::string& path,
                                const std::string& origin) {
  location.files_read.push_back(fs::path(path).lexically_normal().string());
  const auto contents = ReadBoundedFile(path, kMaxUrlFileBytes);
  if (!contents) {
    return Fail("the database URL file " + path + " (named by " + origin + ") " + contents.error() +
                ": check the path and its permissions");
  }
  if (contents->size() > kMaxUrlFileBytes) {
    return Fail("the database URL file " + path + " (named by " + origin + ") is larger than " +
                std::to_string(kMaxUrlFileBytes / 1024) +
                " KiB, which no URL needs: name the file that holds only the URL");
  }
  return Trim(*contents);
}

DotenvFile LoadEnvFile(DatabaseLocation& location, const std::string& path,
                       const EnvLookup& process_env, const std::string& current_dir) {
  const fs::path absolute = fs::absolute(fs::path(current_dir) / path).lexically_normal();
  location.env_file = absolute.string();
  location.files_read.push_back(absolute.string());
  location.app_dir = absolute.parent_path().string();
  const auto contents = ReadDotenvFile(absolute.string());
  if (!contents) {
    location.problems.push_back(
        {"env_file_unreadable",
         contents.error() +
             " (the app would start without it, as in the incident this exporter exists for)",
         HealthStatus::kDegraded});
    return {};
  }
  DotenvFile env_file = ParseDotenv(*contents, process_env);
  location.env_file_warnings = env_file.warnings;
  if (!env_file.warnings.empty()) {
    const auto& first = env_file.warnings.front();
    location.problems.push_back({"env_file_malformed",
                                 "the env file " + absolute.string() + " has " +
                                     std::to_string(env_file.warnings.size()) +
                                     " line(s) python-dotenv skips, first at line " +
                                     std::to_string(first.line) + ": " + first.message,
                                 HealthStatus::kDegraded});
  }
  return env_file;
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

// The URL text and where it came from.
Result<std::string> FindUrl(DatabaseLocation& location, const FlagValues& flags,
                            const Lookup& lookup, const std::string& current_dir) {
  if (auto path = flags.Get("database.url-file")) {
    location.source = ConfigSource::kFlag;
    location.origin = "--database.url-file";
    return ReadUrlFile(location, (fs::path(current_dir) / *path).string(), location.origin);
  }
  if (auto found = FindUrlVariable(lookup)) {
    location.source = found->source;
    location.origin = DescribeSource(found->source, found->variable, location.env_file);
    if (found->variable == "DATABASE_URL") return found->value;
    return ReadUrlFile(location, (fs::path(current_dir) / location.app_dir / found->value).string(),
                       location.origin);
  }
  location.source = ConfigSource::kDefault;
  location.origin = "the app's default";
  location.problems.push_back(
      {"database_url_missing",
       std::string("DATABASE_URL is not set") +
           (location.env_file ? " in the environment nor in " + *location.env_file : "") +
           ": the app falls back to " + kFallbackDatabaseUrl +
           "; set DATABASE_URL in the app's env file (and make sure the app loads it)",
       HealthStatus::kDegraded});
  return std::string(kFallbackDatabaseUrl);
}

// Unhealthy, not degraded: SQLAlchemy has taken the rest of the password for
// the host or the database name, so the app connects somewhere else (or
// nowhere) and logs in with a piece of its password.
std::string UnencodedAtMessage(const DatabaseLocation& location) {
  const char* becomes = "the host name";
  switch (location.url.stray_at) {
    case StrayAt::kDatabase:
      becomes = "the database name";
      break;
    case StrayAt::kQuery:
      becomes = "the host name and a query option";
      break;
    case StrayAt::kHost:
    case StrayAt::kNone:
      break;
  }
  return "the database URL from " + location.origin +
         " has an '@' after the one that ends its user name and password, most likely an "
         "unencoded '@' in the password: SQLAlchemy ends the password at its first '@' and reads "
         "the rest of it as " +
         becomes +
         ", so the app cannot reach its database; percent-encode each @ in the password as %40 "
         "(and : / ? % as %3A %2F %3F %25)";
}

Status ResolveDatabaseUrl(DatabaseLocation& location, const FlagValues& flags, const Lookup& lookup,
                          const std::string& current_dir) {
  const Result<std::string> text = FindUrl(location, flags, lookup, current_dir);
  if (!text) return Fail(text.error());
  Result<SqlalchemyUrl> url = ParseSqlalchemyUrl(*text);
  if (!url) return Fail(url.error() + " (read from " + location.origin + ")");
  location.url = std::move(*url);
  if (location.url.stray_at != StrayAt::kNone) {
    location.problems.push_back(
        {"database_url_unencoded_at", UnencodedAtMessage(location), HealthStatus::kUnhealthy});
  }
  if (location.url.type == DatabaseType::kPostgresql && location.url.dialect == "postgres") {
    location.problems.push_back(
        {"database_url_deprecated_scheme",
         "DATABASE_URL starts with postgres://, which SQLAlchemy 1.4 and later refuse: write "
         "postgresql:// instead",
         HealthStatus::kDegraded});
  }
  return {};
}

void ResolveSqlitePath(DatabaseLocation& location) {
  if (location.url.type != DatabaseType::kSqlite || location.url.IsSqliteMemory()) return;
  location.sqlite_path =
      ResolveSqliteFile(location.url.database, location.app_dir, location.sqlite_relative_to);
}

Status ResolveExpectedType(DatabaseLocation& location, const FlagValues& flags,
                           const Lookup& lookup) {
  if (auto expected = flags.Get("database.expected-type")) {
    const std::string& value = *expected;
    if (value == "postgresql") {
      location.expected_type = ExpectedType::kPostgresql;
    } else if (value == "sqlite") {
      location.expected_type = ExpectedType::kSqlite;
    } else if (value == "any") {
      location.expected_type = ExpectedType::kAny;
    } else {
      return Fail("--database.expected-type='" + value +
                  "' is not known: use postgresql, sqlite or any");
    }
    location.expected_type_reason = "--database.expected-type";
    return {};
  }
  for (const char* variable : {"FLASK_ENV", "APP_ENV"}) {
    if (auto found = lookup.Get(variable); found && Lower(Trim(found->value)) == "production") {
      location.expected_type = ExpectedType::kPostgresql;
      location.expected_type_reason = std::string(variable) + "=production";
      return {};
    }
  }
  location.expected_type = ExpectedType::kAny;
  location.expected_type_reason = "no production environment declared";
  return {};
}

void CheckExpectedType(DatabaseLocation& location) {
  if (location.expected_type == ExpectedType::kAny) return;
  const std::string actual = DatabaseTypeName(location.url.type);
  const std::string expected = ExpectedTypeName(location.expected_type);
  if (actual == expected) return;
  std::string message = "the app's database is " + actual + " but " + expected + " is expected (" +
                        location.expected_type_reason + ")";
  if (location.source == ConfigSource::kDefault) {
    message += ": the app has silently fallen back to SQLite because DATABASE_URL is missing";
  }
  message += "; point DATABASE_URL at the " + expected +
             " database in the app's env file and restart the app";
  location.problems.push_back({"database_type_unexpected", message, HealthStatus::kUnhealthy});
}

}  // namespace

std::string ResolveSqliteFile(const std::string& database, const std::string& app_dir,
                              SqliteRelativeTo relative_to) {
  if (database.empty() || database == ":memory:") return "";
  const fs::path file(database);
  if (file.is_absolute()) return file.lexically_normal().string();
  fs::path base(app_dir);
  if (relative_to == SqliteRelativeTo::kInstance) base /= "instance";
  return (base / file).lexically_normal().string();
}

std::string FallbackSqlitePath(const DatabaseLocation& location) {
  const Result<SqlalchemyUrl> fallback = ParseSqlalchemyUrl(kFallbackDatabaseUrl);
  return ResolveSqliteFile(fallback ? fallback->database : "caloria.db", location.app_dir,
                           location.sqlite_relative_to);
}

const char* ConfigSourceName(ConfigSource source) {
  switch (source) {
    case ConfigSource::kFlag:
      return "flag";
    case ConfigSource::kEnvironment:
      return "environment";
    case ConfigSource::kEnvFile:
      return "env_file";
    case ConfigSource::kConfigFile:
      return "config_file";
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

std::vector<FlagSpec> DatabaseLocationFlags() {
  return {
      {"app.env-file", "PATH",
       "The Caloria app's .env file; read with python-dotenv rules. Its folder is the app's "
       "folder."},
      {"database.url-file", "PATH",
       "File holding the SQLAlchemy database URL; overrides DATABASE_URL and "
       "DATABASE_URL_FILE."},
      {"database.expected-type", "TYPE",
       "postgresql, sqlite or any (default postgresql when FLASK_ENV or APP_ENV is production, "
       "else any)."},
      {"database.sqlite-relative-to", "WHERE",
       "instance (Flask-SQLAlchemy 3: APP/instance/) or app (2.x: APP/) for relative SQLite "
       "paths (default instance)."},
  };
}

Result<DatabaseLocation> LocateDatabase(const FlagValues& flags, const EnvLookup& process_env,
                                        const std::string& current_dir,
                                        ConfigSource process_source) {
  DatabaseLocation location;
  if (auto value = flags.Get("database.sqlite-relative-to")) {
    if (*value == "instance") {
      location.sqlite_relative_to = SqliteRelativeTo::kInstance;
    } else if (*value == "app") {
      location.sqlite_relative_to = SqliteRelativeTo::kApp;
    } else {
      return Fail("--database.sqlite-relative-to='" + *value +
                  "': use instance (Flask-SQLAlchemy 3) or app (Flask-SQLAlchemy 2)");
    }
  }
  location.app_dir = current_dir;
  DotenvFile env_file;
  if (auto path = flags.Get("app.env-file")) {
    if (path->empty()) return Fail("--app.env-file is empty: give the path of the app's .env");
    env_file = LoadEnvFile(location, *path, process_env, current_dir);
  }
  const Lookup lookup{process_env, env_file, process_source};
  if (Status url = ResolveDatabaseUrl(location, flags, lookup, current_dir); !url) {
    return Fail(url.error());
  }
  ResolveSqlitePath(location);
  if (Status expected = ResolveExpectedType(location, flags, lookup); !expected) {
    return Fail(expected.error());
  }
  CheckExpectedType(location);
  return location;
}

}  // namespace caloria
