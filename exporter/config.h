#pragma once

#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "exporter/dotenv.h"
#include "exporter/duration.h"
#include "exporter/logger.h"
#include "exporter/problem.h"
#include "exporter/sqlalchemy_url.h"

namespace caloria {

// A usage error: the exporter prints what() as one line and exits with 2.
class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Where the database URL came from, highest precedence first; the value of
// the source label of caloria_config_info.
enum class ConfigSource { kFlag, kEnvironment, kEnvFile, kDefault };
const char* ConfigSourceName(ConfigSource source);

enum class ExpectedType { kPostgresql, kSqlite, kAny };
const char* ExpectedTypeName(ExpectedType type);

// Where a relative SQLite path is resolved: Flask-SQLAlchemy 3 uses the
// app's instance/ folder, 2.x the app's folder.
enum class SqliteRelativeTo { kInstance, kApp };

// Where the backups are and what counts as good; see the --backup.* flags.
struct BackupSettings {
  std::string dir = "/var/backups/caloria";
  std::string pattern = "caloria_*.sql.gz";
  Duration max_age = std::chrono::hours(26);
  Duration retention = std::chrono::hours(24 * 7);
  std::optional<std::string> log_path;
  std::string users_table = "users";
  Duration verify_timeout = std::chrono::minutes(10);
  // A verification that ran out of time is tried again after this long (the
  // disk may have been busy), not at every poll: each try may read for
  // verify_timeout. Not a flag; tests shorten it.
  Duration retry_timed_out_after = std::chrono::hours(1);
};

// Everything the exporter needs, parsed and validated once at startup and
// immutable afterwards. Holds the password only inside SqlalchemyUrl's Secret.
struct Config {
  std::string listen_address = ":9841";
  std::string civetweb_listening_ports = "9841";  // listen_address in CivetWeb's syntax
  std::string telemetry_path = "/metrics";
  std::string users_query = "SELECT count(*) FROM users";
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(5);
  LogLevel log_level = LogLevel::kInfo;
  LogFormat log_format = LogFormat::kLogfmt;

  std::optional<std::string> env_file;  // absolute path, as given by --app.env-file
  std::string app_dir;                  // the app's folder: the env file's, else the cwd
  SqliteRelativeTo sqlite_relative_to = SqliteRelativeTo::kInstance;

  SqlalchemyUrl database_url;
  ConfigSource url_source = ConfigSource::kDefault;
  std::string url_origin;   // e.g. "the env file /srv/caloria/.env", for messages
  std::string sqlite_path;  // absolute file path for a file-backed SQLite URL

  ExpectedType expected_type = ExpectedType::kAny;
  std::string expected_type_reason;  // e.g. "FLASK_ENV=production"

  bool backup_collector_enabled = true;
  BackupSettings backup;

  std::vector<Problem> problems;  // found at startup, exported while they last
  std::vector<DotenvWarning> env_file_warnings;
};

// The outcome of reading the command line: either a Config, or a request
// for --help / --version output.
struct ConfigRequest {
  enum class Kind { kRun, kHelp, kVersion } kind = Kind::kRun;
  Config config;
};

// Reads flags (args excludes argv[0]), the process environment and the
// app's env file, with precedence flag > process environment > env file >
// default. Throws ConfigError for usage errors; everything else the app
// itself would survive becomes a Problem in config.problems.
ConfigRequest LoadConfig(const std::vector<std::string>& args, const EnvLookup& process_env,
                         const std::string& current_dir);

// The --help text.
std::string UsageText();

}  // namespace caloria
