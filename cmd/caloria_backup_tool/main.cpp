// caloria_backup_tool: what scripts/caloria-backup asks the exporter's own code
// instead of re-implementing it in bash: where the app's database is (the
// env file, the URL, the SQLite path), how to run pg_dump against it without
// the password on a command line, whether a backup is complete, and which
// backups a folder holds. The script and caloria_exporter therefore never
// disagree about the app's database or a backup (docs/backup.md).
//
// This file only wires library functions to subcommands; each record it
// prints is key=value ended by a NUL byte, since values may hold newlines.

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "collectors/backup/backup_scan.h"
#include "collectors/backup/backup_settings.h"
#include "collectors/backup/backup_verifier.h"
#include "collectors/database/database_collector.h"
#include "collectors/database/libpq_params.h"
#include "collectors/database/users_query.h"
#include "collectors/restore/restore_state.h"
#include "config/database_location.h"
#include "config/dotenv.h"
#include "config/flags.h"
#include "core/build_info.h"
#include "core/clock.h"
#include "core/deadline.h"
#include "core/thread_guard.h"

namespace caloria {
namespace {

constexpr const char* kProgram = "caloria_backup_tool";
constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitCannotRun = 126;
constexpr int kExitNotFound = 127;
// pg_dump's session shows up in pg_stat_activity under this name.
constexpr const char* kApplicationName = "caloria-backup";
// Listing one folder; the exporter's own scan is bounded by --collector.timeout.
constexpr auto kListTimeout = std::chrono::minutes(1);

using Records = std::vector<std::pair<std::string, std::string>>;

std::optional<std::string> ProcessEnv(const std::string& name) {
  if (const char* value = std::getenv(name.c_str())) return std::string(value);
  return std::nullopt;
}

std::string CurrentDir() {
  std::error_code ignored;
  return std::filesystem::current_path(ignored).string();
}

int Complain(const std::string& message, int status) {
  std::cerr << kProgram << ": " << message << "\n";
  return status;
}
int UsageError(const std::string& message) { return Complain(message, kExitUsage); }
int Failure(const std::string& message) { return Complain(message, kExitFailure); }

// Prints key=value records, each ended by a NUL byte.
int Print(const Records& records) {
  for (const auto& [key, value] : records) {
    if (value.find('\0') != std::string::npos) {
      return Failure("cannot print " + key + ": it holds a NUL byte (%00 in DATABASE_URL?)");
    }
  }
  for (const auto& [key, value] : records) std::cout << key << '=' << value << '\0';
  std::cout.flush();
  return std::cout ? EXIT_SUCCESS : kExitFailure;
}

FlagGroup LocationFlags() {
  return {"The app's database (as caloria_exporter takes them)", std::nullopt,
          DatabaseLocationFlags()};
}

// The tool's own flags for reaching another database on the same server (the
// restore test's scratch database) and for counting users once.
FlagSpec DatabaseNameFlag() {
  return {"database.name", "NAME",
          "Connect to this database on the URL's PostgreSQL server instead of the URL's own "
          "(the restore test's scratch database)."};
}
FlagGroup UsersFlags() {
  return {"Counting users (users)",
          std::nullopt,
          {{"database.users-query", "SQL",
            "The users query, as the exporter's (default SELECT count(*) FROM users)."},
           {"database.timeout", "DURATION",
            "Give up connecting and counting after this long (default 30s)."},
           DatabaseNameFlag()}};
}
FlagGroup PgExecFlags() {
  return {"Running a PostgreSQL client (pg-exec)", std::nullopt, {DatabaseNameFlag()}};
}

// The --backup.* flags of the exporter that a subcommand takes.
FlagGroup BackupFlagsNamed(const std::vector<std::string>& names) {
  FlagGroup group{"Backups (as caloria_exporter takes them)", std::nullopt, {}};
  for (const FlagSpec& flag : BackupFlags()) {
    if (std::find(names.begin(), names.end(), flag.name) != names.end()) {
      group.flags.push_back(flag);
    }
  }
  return group;
}

std::string UsageIntro() {
  return "usage: caloria_backup_tool COMMAND [ARGS]\n"
         "\n"
         "What scripts/caloria-backup asks caloria_exporter's own code, so that the script\n"
         "and the exporter never disagree about the app's database or a backup. Records\n"
         "are key=value, each ended by a NUL byte.\n"
         "\n"
         "Commands:\n"
         "  locate [LOCATION FLAGS]\n"
         "      Where the app's database is, found as the exporter finds it: type, url\n"
         "      (password as ***), source, origin, sqlite_path, env_file, app_dir,\n"
         "      expected_type, one problem=CHECK MESSAGE per configuration problem, one\n"
         "      warning=LINE MESSAGE per env file line python-dotenv skips.\n"
         "  pg-dump [LOCATION FLAGS] -- [PG_DUMP ARGS]\n"
         "      Runs pg_dump --dbname=CONNINFO PG_DUMP_ARGS on the app's PostgreSQL database;\n"
         "      the password goes to pg_dump's environment (PGPASSWORD) only.\n"
         "  pg-exec PROGRAM [LOCATION FLAGS] [--database.name=NAME] -- [ARGS]\n"
         "      Runs PROGRAM (pg_dump, pg_restore or psql) --dbname=CONNINFO ARGS on the\n"
         "      app's PostgreSQL server, or on another database of it; the password goes to\n"
         "      PROGRAM's environment (PGPASSWORD) only.\n"
         "  users [LOCATION FLAGS] [--database.users-query=SQL] [--database.name=NAME]\n"
         "        [--database.timeout=DURATION]\n"
         "      Counts the users with the exporter's own connection and query: users=N;\n"
         "      error=... and exit 1 when they cannot be counted.\n"
         "  restore-state FILE KEY=VALUE...\n"
         "      Records a restore test in the state file the exporter reads (replaced\n"
         "      atomically, the last success kept): finished=UNIX success=0|1 error=TEXT\n"
         "      duration=SECONDS backup_file=PATH backup_timestamp=UNIX\n"
         "      backup_format=plain|custom|sqlite restored_users=N backup_users=N\n"
         "      live_users=N target=TEXT; finished defaults to now.\n"
         "  verify FILE [--backup.users-table=NAME] [--backup.verify-timeout=DURATION]\n"
         "      Verifies a backup as the exporter does: verified=1|0, users=N|none,\n"
         "      bytes=N (SQL read), timed_out=1|0, error=...; exit 1 when not verified.\n"
         "  list [--backup.dir=DIR] [--backup.pattern=GLOB]\n"
         "      The backups, newest first, one record each: TIME<tab>SIZE<tab>NAME, TIME\n"
         "      being the epoch second the exporter reads from the name (else mtime).\n"
         "  dotenv FILE\n"
         "      An env file as the exporter reads it (python-dotenv rules), as JSON:\n"
         "      {\"values\": {...}, \"warnings\": [{\"line\": N, \"message\": \"...\"}]}.\n"
         "\n"
         "Exit status: 0 done, 1 failed or not verified, 2 usage error, 127 pg_dump not\n"
         "found.\n\n";
}

int Help() {
  std::cout << UsageText(UsageIntro(),
                         {LocationFlags(), PgExecFlags(), UsersFlags(),
                          BackupFlagsNamed({"backup.dir", "backup.pattern", "backup.users-table",
                                            "backup.verify-timeout"})},
                         "");
  return EXIT_SUCCESS;
}

int Version() {
  std::cout << kProgram << ", version " << kVersion << " (revision: " << kRevision << ")\n";
  return EXIT_SUCCESS;
}

// Parses a subcommand's flags with the exporter's parser. Returns the exit
// status when there is nothing more to do (help, version, a usage error).
std::optional<int> ParseFlags(const std::vector<std::string>& args,
                              const std::vector<FlagGroup>& groups, FlagValues& flags) {
  const Result<CommandLine> command = ParseCommandLine(args, groups);
  if (!command) return UsageError(command.error());
  switch (command->kind) {
    case CommandLine::Kind::kHelp:
    case CommandLine::Kind::kHelpMan:  // an internal tool: no man page, its --help
      return Help();
    case CommandLine::Kind::kVersion:
      return Version();
    case CommandLine::Kind::kRun:
      break;
  }
  flags = command->flags;
  return std::nullopt;
}

int LocateCommand(const std::vector<std::string>& args) {
  FlagValues flags;
  if (auto done = ParseFlags(args, {LocationFlags()}, flags)) return *done;
  const Result<DatabaseLocation> location = LocateDatabase(flags, &ProcessEnv, CurrentDir());
  if (!location) return UsageError(location.error());
  Records records = {
      {"type", DatabaseTypeName(location->url.type)},
      {"url", location->url.Redacted()},
      {"source", ConfigSourceName(location->source)},
      {"origin", location->origin},
      {"sqlite_path", location->sqlite_path},
      {"env_file", location->env_file.value_or("")},
      {"app_dir", location->app_dir},
      {"expected_type", ExpectedTypeName(location->expected_type)},
  };
  for (const Problem& problem : location->problems) {
    records.emplace_back("problem", problem.check + " " + problem.message);
  }
  for (const DotenvWarning& warning : location->env_file_warnings) {
    records.emplace_back("warning", std::to_string(warning.line) + " " + warning.message);
  }
  return Print(records);
}

// The app's database, or with --database.name another database on its
// server (PostgreSQL only).
Result<DatabaseLocation> LocateWithName(const FlagValues& flags) {
  Result<DatabaseLocation> location = LocateDatabase(flags, &ProcessEnv, CurrentDir());
  if (!location) return location;
  if (auto name = flags.Get("database.name")) {
    if (name->empty()) return Fail("--database.name is empty: give a database name");
    if (location->url.type != DatabaseType::kPostgresql) {
      return Fail("--database.name needs a PostgreSQL URL; the one from " + location->origin +
                  " is " + DatabaseTypeName(location->url.type));
    }
    location->url.database = *name;
  }
  return location;
}

// Runs a PostgreSQL client program on the located database: its connection
// string on the command line without the password, the password in its
// environment only (ps shows no secret).
int PgExecCommand(const std::string& program, const std::vector<std::string>& args) {
  const auto separator = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> flag_args(args.begin(), separator);
  FlagValues flags;
  if (auto done = ParseFlags(flag_args, {LocationFlags(), PgExecFlags()}, flags)) return *done;
  const Result<DatabaseLocation> location = LocateWithName(flags);
  if (!location) return UsageError(location.error());
  if (location->url.type != DatabaseType::kPostgresql) {
    return Failure("the database is " + DatabaseTypeName(location->url.type) + " (" +
                   location->url.Redacted() + ", from " + location->origin + "): " + program +
                   " runs on PostgreSQL only");
  }
  if (location->url.stray_at != StrayAt::kNone) {
    // The client would show the host (a piece of the password) on its
    // command line and quote it in its errors, which the scripts log.
    return Failure("the database URL from " + location->origin +
                   " has an unencoded '@' (database_url_unencoded_at): percent-encode each @ in "
                   "the password as %40");
  }
  const Result<PasswordlessConninfo> connection =
      SplitPassword(UrlLibpqParams(location->url, {{"application_name", kApplicationName}}));
  if (!connection) return UsageError(connection.error());
  if (!connection->password.empty() &&
      setenv("PGPASSWORD", connection->password.Reveal().c_str(), 1) != 0) {
    return Failure(std::string("cannot set PGPASSWORD: ") + std::strerror(errno));
  }
  std::vector<std::string> argv = {program, "--dbname=" + connection->conninfo};
  if (separator != args.end()) argv.insert(argv.end(), separator + 1, args.end());
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  execvp(program.c_str(), c_argv.data());
  if (errno == ENOENT) {
    return Complain(program + " not found on PATH: install it (Debian package postgresql-client)",
                    kExitNotFound);
  }
  return Complain("cannot run " + program + ": " + std::strerror(errno), kExitCannotRun);
}

int PgExecCommand(std::vector<std::string> args) {
  if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) return Help();
  if (args.empty() ||
      (args.front() != "pg_dump" && args.front() != "pg_restore" && args.front() != "psql")) {
    return UsageError("pg-exec runs pg_dump, pg_restore or psql: pg-exec PROGRAM [FLAGS] -- ARGS");
  }
  const std::string program = args.front();
  args.erase(args.begin());
  return PgExecCommand(program, args);
}

// Counts the users once with the exporter's own database collector: the
// same connection settings, read-only session, deadline and query.
int UsersCommand(const std::vector<std::string>& args) {
  FlagValues flags;
  if (auto done = ParseFlags(args, {LocationFlags(), UsersFlags()}, flags)) return *done;
  const Result<DatabaseLocation> location = LocateWithName(flags);
  if (!location) return UsageError(location.error());
  const Result<std::string> query =
      ValidateUsersQuery(flags.Get("database.users-query").value_or(kDefaultUsersQuery));
  if (!query) return UsageError(query.error());
  const Result<Duration> timeout =
      PositiveDurationFlag(flags, "database.timeout", std::chrono::seconds(30));
  if (!timeout) return UsageError(timeout.error());
  if (location->url.type == DatabaseType::kSqlite && location->sqlite_path.empty()) {
    return Failure("the database is an in-memory SQLite database: it has no users to count");
  }
  DatabaseCollector collector(DatabaseTarget{location->url, location->sqlite_path, *query});
  const CollectorResult result = collector.Collect(Deadline::After(*timeout));
  for (const prometheus::MetricFamily& family : result.families) {
    if (family.name == "caloria_database_users" && !family.metric.empty()) {
      return Print(
          {{"users", std::to_string(static_cast<long long>(family.metric.front().gauge.value))}});
    }
  }
  const std::string error = result.error.value_or("the users could not be counted");
  const int printed = Print({{"error", error}});
  return printed != EXIT_SUCCESS ? printed : kExitFailure;
}

// FILE first: the exporter's flag parser takes no positional arguments.
std::optional<int> TakeFile(std::vector<std::string>& args, const std::string& synopsis,
                            std::string& file) {
  if (!args.empty() && (args.front() == "--help" || args.front() == "-h")) return Help();
  if (args.empty() || args.front().starts_with("-")) {
    return UsageError("the file comes first: " + synopsis);
  }
  file = args.front();
  args.erase(args.begin());
  return std::nullopt;
}

int VerifyCommand(std::vector<std::string> args) {
  std::string file;
  if (auto done = TakeFile(
          args, "verify FILE [--backup.users-table=NAME] [--backup.verify-timeout=DURATION]",
          file)) {
    return *done;
  }
  FlagValues flags;
  const FlagGroup group = BackupFlagsNamed({"backup.users-table", "backup.verify-timeout"});
  if (auto done = ParseFlags(args, {group}, flags)) return *done;
  const Result<BackupSettings> settings = BackupSettingsFromFlags(flags);
  if (!settings) return UsageError(settings.error());
  const BackupVerification result =
      VerifyBackupFile(file, settings->users_table, Deadline::After(settings->verify_timeout));
  const int printed = Print({
      {"verified", result.verified ? "1" : "0"},
      {"users", result.users ? std::to_string(*result.users) : "none"},
      {"bytes", std::to_string(result.uncompressed_bytes)},
      {"timed_out", result.timed_out ? "1" : "0"},
      {"error", result.error},
  });
  if (printed != EXIT_SUCCESS) return printed;
  return result.verified ? EXIT_SUCCESS : kExitFailure;
}

int ListCommand(const std::vector<std::string>& args) {
  FlagValues flags;
  if (auto done = ParseFlags(args, {BackupFlagsNamed({"backup.dir", "backup.pattern"})}, flags)) {
    return *done;
  }
  const Result<BackupSettings> settings = BackupSettingsFromFlags(flags);
  if (!settings) return UsageError(settings.error());
  const Result<std::vector<BackupFile>> files =
      ScanBackupDir(settings->dir, settings->pattern, Deadline::After(kListTimeout));
  if (!files) return Failure(files.error());
  for (const BackupFile& file : *files) {
    std::cout << file.time << '\t' << file.size << '\t' << file.name << '\0';
  }
  std::cout.flush();
  return std::cout ? EXIT_SUCCESS : kExitFailure;
}

int DotenvCommand(std::vector<std::string> args) {
  std::string path;
  if (auto done = TakeFile(args, "dotenv FILE", path)) return *done;
  if (!args.empty()) return UsageError("dotenv takes one file: dotenv FILE");
  const Result<std::string> text = ReadDotenvFile(path);
  if (!text) return Failure(text.error());
  const DotenvFile parsed = ParseDotenv(*text, &ProcessEnv);
  nlohmann::ordered_json out;
  out["values"] = nlohmann::ordered_json::object();
  for (const auto& [key, value] : parsed.values) out["values"][key] = value;
  out["warnings"] = nlohmann::ordered_json::array();
  for (const DotenvWarning& warning : parsed.warnings) {
    out["warnings"].push_back({{"line", warning.line}, {"message", warning.message}});
  }
  std::cout << out.dump(2, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
  return std::cout ? EXIT_SUCCESS : kExitFailure;
}

// A whole number or a time, as the script passes it; nullopt for "" or
// "none" (not known).
Result<std::optional<double>> OptionalNumber(const std::string& key, const std::string& text) {
  if (text.empty() || text == "none") return std::optional<double>();
  char* end = nullptr;
  errno = 0;
  const double value = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size() || errno != 0 || !std::isfinite(value) || value < 0) {
    return Fail(key + "=" + text + " is not a number of at least 0");
  }
  return std::optional<double>(value);
}

int RestoreStateCommand(std::vector<std::string> args) {
  std::string path;
  if (auto done = TakeFile(args, "restore-state FILE KEY=VALUE...", path)) return *done;
  RestoreRun run;
  run.finished = UnixSeconds(std::chrono::system_clock::now());
  const std::map<std::string, std::string*> texts = {{"error", &run.error},
                                                     {"backup_file", &run.backup_file},
                                                     {"backup_format", &run.backup_format},
                                                     {"target", &run.target}};
  // Numbers that may be unknown ("" or none), and two that keep their
  // default (now, 0) when not given.
  const std::map<std::string, std::optional<double>*> maybe = {
      {"backup_timestamp", &run.backup_timestamp},
      {"restored_users", &run.restored_users},
      {"backup_users", &run.backup_users},
      {"live_users", &run.live_users}};
  const std::map<std::string, double*> defaulted = {{"finished", &run.finished},
                                                    {"duration", &run.duration_seconds}};
  for (const std::string& arg : args) {
    const auto equals = arg.find('=');
    if (equals == std::string::npos) return UsageError("'" + arg + "' is not KEY=VALUE");
    const std::string key = arg.substr(0, equals);
    const std::string value = arg.substr(equals + 1);
    if (key == "success") {
      if (value != "0" && value != "1") return UsageError("success must be 0 or 1");
      run.success = value == "1";
      continue;
    }
    if (const auto text = texts.find(key); text != texts.end()) {
      *text->second = value;
      continue;
    }
    const auto optional = maybe.find(key);
    const auto plain = defaulted.find(key);
    if (optional == maybe.end() && plain == defaulted.end()) {
      return UsageError("unknown key '" + key + "' (see --help)");
    }
    const Result<std::optional<double>> parsed = OptionalNumber(key, value);
    if (!parsed) return UsageError(parsed.error());
    if (optional != maybe.end()) *optional->second = *parsed;
    if (plain != defaulted.end() && *parsed) *plain->second = **parsed;
  }
  if (!run.success && run.error.empty()) return UsageError("a failed run needs error=TEXT");
  RestoreState state;
  // A failed run keeps the proof the last success gave. A previous file
  // that cannot be read is replaced: it could only be the wrong file or a
  // corrupt one, and the new run is the truth now.
  if (const Result<RestoreState> previous = ReadRestoreState(path)) {
    state.last_success = previous->last_success;
  }
  if (run.success) state.last_success = run;
  state.last_run = std::move(run);
  const Status written = WriteRestoreState(path, state);
  if (!written) return Failure(written.error());
  return EXIT_SUCCESS;
}

int Main(std::vector<std::string> args) {
  constexpr const char* kCommands =
      "use locate, pg-dump, pg-exec, users, verify, list, dotenv or restore-state (see --help)";
  if (args.empty()) return UsageError(std::string("no command: ") + kCommands);
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h") return Help();
  if (command == "--version") return Version();
  if (command == "locate") return LocateCommand(args);
  if (command == "pg-dump") return PgExecCommand("pg_dump", args);
  if (command == "pg-exec") return PgExecCommand(std::move(args));
  if (command == "users") return UsersCommand(args);
  if (command == "restore-state") return RestoreStateCommand(std::move(args));
  if (command == "verify") return VerifyCommand(std::move(args));
  if (command == "list") return ListCommand(args);
  if (command == "dotenv") return DotenvCommand(std::move(args));
  return UsageError("unknown command '" + command + "': " + kCommands);
}

}  // namespace
}  // namespace caloria

int main(int argc, char** argv) {
  return caloria::GuardedMain("caloria_backup_tool", argc, argv, caloria::Main);
}
