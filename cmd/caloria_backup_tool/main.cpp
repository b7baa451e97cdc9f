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
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "collectors/backup/backup_scan.h"
#include "collectors/backup/backup_settings.h"
#include "collectors/backup/backup_verifier.h"
#include "collectors/database/libpq_params.h"
#include "config/database_location.h"
#include "config/dotenv.h"
#include "config/flags.h"
#include "core/build_info.h"
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
  std::cout << UsageText(
      UsageIntro(),
      {LocationFlags(), BackupFlagsNamed({"backup.dir", "backup.pattern", "backup.users-table",
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

int PgDumpCommand(const std::vector<std::string>& args) {
  const auto separator = std::find(args.begin(), args.end(), "--");
  const std::vector<std::string> flag_args(args.begin(), separator);
  FlagValues flags;
  if (auto done = ParseFlags(flag_args, {LocationFlags()}, flags)) return *done;
  const Result<DatabaseLocation> location = LocateDatabase(flags, &ProcessEnv, CurrentDir());
  if (!location) return UsageError(location.error());
  if (location->url.type != DatabaseType::kPostgresql) {
    return Failure("the app's database is " + DatabaseTypeName(location->url.type) + " (" +
                   location->url.Redacted() + ", from " + location->origin +
                   "): pg-dump backs up PostgreSQL only");
  }
  if (location->url.stray_at != StrayAt::kNone) {
    // pg_dump would show the host (a piece of the password) on its command
    // line and quote it in its errors, which the script logs.
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
  std::vector<std::string> argv = {"pg_dump", "--dbname=" + connection->conninfo};
  if (separator != args.end()) argv.insert(argv.end(), separator + 1, args.end());
  std::vector<char*> c_argv;
  c_argv.reserve(argv.size() + 1);
  for (std::string& arg : argv) c_argv.push_back(arg.data());
  c_argv.push_back(nullptr);
  execvp("pg_dump", c_argv.data());
  if (errno == ENOENT) {
    return Complain("pg_dump not found on PATH: install it (Debian package postgresql-client)",
                    kExitNotFound);
  }
  return Complain(std::string("cannot run pg_dump: ") + std::strerror(errno), kExitCannotRun);
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

int Main(std::vector<std::string> args) {
  constexpr const char* kCommands = "use locate, pg-dump, verify, list or dotenv (see --help)";
  if (args.empty()) return UsageError(std::string("no command: ") + kCommands);
  const std::string command = args.front();
  args.erase(args.begin());
  if (command == "--help" || command == "-h") return Help();
  if (command == "--version") return Version();
  if (command == "locate") return LocateCommand(args);
  if (command == "pg-dump") return PgDumpCommand(args);
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
