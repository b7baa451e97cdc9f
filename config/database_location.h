#pragma once

#include <optional>
#include <string>
#include <vector>

#include "config/dotenv.h"
#include "config/flags.h"
#include "config/sqlalchemy_url.h"
#include "core/problem.h"
#include "core/result.h"

namespace caloria {

// Where the database URL came from, highest precedence first; the value of
// the source label of caloria_config_info.
// kConfigFile: a target's `url` in --config.file (config/targets_file.h).
enum class ConfigSource { kFlag, kEnvironment, kEnvFile, kConfigFile, kDefault };
const char* ConfigSourceName(ConfigSource source);

enum class ExpectedType { kPostgresql, kSqlite, kAny };
const char* ExpectedTypeName(ExpectedType type);

// Where a relative SQLite path is resolved: Flask-SQLAlchemy 3 uses the
// app's instance/ folder, 2.x the app's folder.
enum class SqliteRelativeTo { kInstance, kApp };

// The app's database as the app itself would find it. The exporter and the
// backup script (through cmd/caloria_backup_tool) both take it from here, so
// they can never disagree about which database the app uses.
struct DatabaseLocation {
  std::optional<std::string> env_file;  // absolute path, as given by --app.env-file
  std::string app_dir;                  // the app's folder: the env file's, else the cwd
  SqliteRelativeTo sqlite_relative_to = SqliteRelativeTo::kInstance;

  SqlalchemyUrl url;  // holds the password only inside its Secret
  ConfigSource source = ConfigSource::kDefault;
  std::string origin;       // e.g. "DATABASE_URL in the env file /srv/caloria/.env"
  std::string sqlite_path;  // absolute file path for a file-backed SQLite URL

  ExpectedType expected_type = ExpectedType::kAny;
  std::string expected_type_reason;  // e.g. "FLASK_ENV=production"

  std::vector<Problem> problems;  // what the app would survive, exported while it lasts
  std::vector<DotenvWarning> env_file_warnings;

  // The files this location was read from (the env file, a URL file), read
  // or not: a reload is due when one of them changes.
  std::vector<std::string> files_read;
};

// The URL the app falls back to when DATABASE_URL is missing.
inline constexpr const char* kFallbackDatabaseUrl = "sqlite:///caloria.db";

// Where the app opens the SQLite file `database` (the path of a sqlite:///
// URL, as SqlalchemyUrl::database holds it), with Flask-SQLAlchemy's rule: an
// absolute path as it is, a relative one under app_dir/instance/ (3.x) or
// app_dir/ (2.x). Lexically normalized; "" or ":memory:" is not a file and
// gives "".
std::string ResolveSqliteFile(const std::string& database, const std::string& app_dir,
                              SqliteRelativeTo relative_to);

// The file the app falls back to without DATABASE_URL (kFallbackDatabaseUrl),
// resolved for this location's app folder and --database.sqlite-relative-to.
std::string FallbackSqlitePath(const DatabaseLocation& location);

// --app.env-file, --database.url-file, --database.expected-type and
// --database.sqlite-relative-to.
std::vector<FlagSpec> DatabaseLocationFlags();

// Finds the app's database with the app's precedence: --database.url-file >
// process environment > env file (python-dotenv rules) > the app's default
// sqlite:///caloria.db. A usage error (unparsable URL, unreadable URL file, a
// bad flag value) is an Error; everything the app itself would survive is a
// Problem in the location. `process_source` names what `process_env` is in
// messages and caloria_config_info: kConfigFile for a target of
// --config.file, whose url stands in for the app's environment.
Result<DatabaseLocation> LocateDatabase(const FlagValues& flags, const EnvLookup& process_env,
                                        const std::string& current_dir,
                                        ConfigSource process_source = ConfigSource::kEnvironment);

}  // namespace caloria
