#include "config/config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/test_support.h"

namespace caloria {

// Readable failure messages for the enums compared below (found by ADL).
static void PrintTo(ConfigSource source, std::ostream* out) { *out << ConfigSourceName(source); }
static void PrintTo(ExpectedType type, std::ostream* out) { *out << ExpectedTypeName(type); }

namespace {

namespace fs = std::filesystem;

using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

EnvLookup LookupIn(Env env) {
  return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

// The shared scratch directory, plus what these tests do with it.
class TempDir : public ::caloria::testing::TempDir {
 public:
  std::string str() const { return Path(); }
  fs::path operator/(const std::string& name) const { return path() / name; }

  // Writes a file below this directory (creating folders) and returns its path.
  std::string Write(const std::string& relative, const std::string& contents) const {
    const fs::path file = path() / relative;
    fs::create_directories(file.parent_path());
    std::ofstream out(file, std::ios::binary);
    out << contents;
    out.close();
    EXPECT_TRUE(out) << "cannot write " << file;
    return file.string();
  }
};

// The command line read with the exporter's own flags, then LoadConfig.
Result<Config> LoadResult(const Args& args, const Env& env, const std::string& current_dir) {
  const Result<CommandLine> command = ParseCommandLine(args, ExporterFlagGroups());
  if (!command) return Fail(command.error());
  EXPECT_EQ(command->kind, CommandLine::Kind::kRun);
  return LoadConfig(command->flags, LookupIn(env), current_dir);
}

Config Load(const Args& args, const Env& env, const std::string& current_dir) {
  Result<Config> config = LoadResult(args, env, current_dir);
  EXPECT_TRUE(config.ok()) << (config ? "" : config.error());
  return config ? *config : Config{};
}

// The usage error for the input, or "" (and a failure) when it is accepted.
std::string UsageErrorFor(const Args& args, const Env& env = {},
                          const std::string& current_dir = "/nonexistent-caloria-app") {
  const Result<Config> config = LoadResult(args, env, current_dir);
  if (!config) return config.error();
  ADD_FAILURE() << "LoadConfig accepted the input; expected a usage error";
  return "";
}

// Expects a usage error whose message is one non-empty line.
void ExpectOneLineUsageError(const Args& args, const Env& env = {}) {
  SCOPED_TRACE(::testing::PrintToString(args));
  const std::string message = UsageErrorFor(args, env);
  EXPECT_FALSE(message.empty());
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_EQ(message.find('\r'), std::string::npos) << message;
}

const Problem* FindProblem(const Config& config, const std::string& check) {
  for (const Problem& problem : config.database.problems) {
    if (problem.check == check) return &problem;
  }
  return nullptr;
}

bool HasProblem(const Config& config, const std::string& check) {
  return FindProblem(config, check) != nullptr;
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// --------------------------------------------------------------- defaults --

TEST(Config, DefaultsWithoutFlagsOrEnvironment) {
  TempDir cwd;
  const Config config = Load({}, {}, cwd.str());
  EXPECT_EQ(config.listen.text, ":9841");
  EXPECT_EQ(config.listen.host, "");
  EXPECT_EQ(config.listen.port, 9841);
  EXPECT_EQ(config.telemetry_path, "/metrics");
  EXPECT_EQ(config.interval, std::chrono::seconds(15));
  EXPECT_EQ(config.timeout, std::chrono::seconds(5));
  EXPECT_EQ(config.log_level, LogLevel::kInfo);
  EXPECT_EQ(config.log_format, LogFormat::kLogfmt);
  EXPECT_EQ(config.database.expected_type, ExpectedType::kAny);
  EXPECT_EQ(config.database.sqlite_relative_to, SqliteRelativeTo::kInstance);
  EXPECT_FALSE(config.database.env_file.has_value());
  EXPECT_EQ(config.database.app_dir, cwd.str());
  EXPECT_TRUE(config.database.env_file_warnings.empty());
}

TEST(Config, MissingDatabaseUrlFallsBackToSqliteCaloriaDbWithAProblem) {
  TempDir cwd;
  const Config config = Load({}, {}, cwd.str());
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
  EXPECT_STREQ(ConfigSourceName(config.database.source), "default");
  EXPECT_EQ(config.database.origin, "the app's default");
  EXPECT_EQ(config.database.url.type, DatabaseType::kSqlite);
  EXPECT_EQ(config.database.url.database, "caloria.db");
  EXPECT_EQ(config.database.sqlite_path, (cwd.path() / "instance" / "caloria.db").string());
  const Problem* missing = FindProblem(config, "database_url_missing");
  ASSERT_NE(missing, nullptr);
  EXPECT_EQ(missing->severity, HealthStatus::kDegraded);
  EXPECT_TRUE(Contains(missing->message, "DATABASE_URL")) << missing->message;
}

TEST(Config, EnvFileWithoutDatabaseUrlFallsBackWithAProblem) {
  TempDir app;
  const std::string env_file = app.Write(".env", "SECRET_KEY=dev\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
  EXPECT_TRUE(HasProblem(config, "database_url_missing"));
  EXPECT_EQ(config.database.sqlite_path, (app.path() / "instance" / "caloria.db").string());
}

// ------------------------------------------------- database URL precedence --

// Each source below names a different database, so the one chosen proves
// which source won.
constexpr const char* kFlagFileUrl = "postgresql://flag@db/from_flag_file";
constexpr const char* kProcessUrl = "postgresql://env@db/from_process_url";
constexpr const char* kProcessFileUrl = "postgresql://envfile@db/from_process_url_file";
constexpr const char* kEnvFileUrl = "postgresql://dotenv@db/from_env_file_url";
constexpr const char* kEnvFileFileUrl = "postgresql://dotenvfile@db/from_env_file_url_file";

struct AllSources {
  TempDir app;
  TempDir elsewhere;
  std::string flag_file;
  std::string process_file;
  std::string env_file;

  explicit AllSources(bool env_file_has_url = true, bool env_file_has_url_file = true) {
    flag_file = elsewhere.Write("flag.url", std::string(kFlagFileUrl) + "\n");
    process_file = elsewhere.Write("process.url", std::string(kProcessFileUrl) + "\n");
    app.Write("secrets/database.url", std::string(kEnvFileFileUrl) + "\n");
    std::string text = "SECRET_KEY=dev\n";
    if (env_file_has_url) text += "DATABASE_URL=" + std::string(kEnvFileUrl) + "\n";
    if (env_file_has_url_file) text += "DATABASE_URL_FILE=secrets/database.url\n";
    env_file = app.Write(".env", text);
  }
};

TEST(Config, FlagBeatsProcessEnvironment) {
  AllSources sources;
  const Config config =
      Load({"--app.env-file=" + sources.env_file, "--database.url-file=" + sources.flag_file},
           {{"DATABASE_URL", kProcessUrl}, {"DATABASE_URL_FILE", sources.process_file}}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kFlag);
  EXPECT_STREQ(ConfigSourceName(config.database.source), "flag");
  EXPECT_EQ(config.database.origin, "--database.url-file");
  EXPECT_EQ(config.database.url.database, "from_flag_file");
  EXPECT_FALSE(HasProblem(config, "database_url_missing"));
}

TEST(Config, UrlFileFlagContentIsTrimmed) {
  TempDir dir;
  const std::string file = dir.Write("db.url", "\n  postgresql://u@h:5433/meals \r\n\n");
  const Config config = Load({"--database.url-file=" + file}, {}, dir.str());
  EXPECT_EQ(config.database.url.host, "h");
  EXPECT_EQ(config.database.url.port, 5433);
  EXPECT_EQ(config.database.url.database, "meals");
}

TEST(Config, ProcessDatabaseUrlBeatsProcessDatabaseUrlFile) {
  AllSources sources;
  const Config config =
      Load({"--app.env-file=" + sources.env_file},
           {{"DATABASE_URL", kProcessUrl}, {"DATABASE_URL_FILE", sources.process_file}}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
  EXPECT_STREQ(ConfigSourceName(config.database.source), "environment");
  EXPECT_EQ(config.database.origin, "the environment variable DATABASE_URL");
  EXPECT_EQ(config.database.url.database, "from_process_url");
}

TEST(Config, ProcessDatabaseUrlFileBeatsEnvFileDatabaseUrl) {
  AllSources sources;
  const Config config = Load({"--app.env-file=" + sources.env_file},
                             {{"DATABASE_URL_FILE", sources.process_file}}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
  EXPECT_EQ(config.database.origin, "the environment variable DATABASE_URL_FILE");
  EXPECT_EQ(config.database.url.database, "from_process_url_file");
}

TEST(Config, ProcessDatabaseUrlFileIsUsedWithoutAnEnvFile) {
  TempDir dir;
  const std::string file = dir.Write("db.url", std::string(kProcessFileUrl) + "\n");
  const Config config = Load({}, {{"DATABASE_URL_FILE", file}}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
  EXPECT_EQ(config.database.origin, "the environment variable DATABASE_URL_FILE");
  EXPECT_EQ(config.database.url.database, "from_process_url_file");
}

TEST(Config, EnvFileDatabaseUrlBeatsEnvFileDatabaseUrlFile) {
  AllSources sources;
  const Config config = Load({"--app.env-file=" + sources.env_file}, {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kEnvFile);
  EXPECT_STREQ(ConfigSourceName(config.database.source), "env_file");
  EXPECT_EQ(config.database.origin, "DATABASE_URL in the env file " + sources.env_file);
  EXPECT_EQ(config.database.url.database, "from_env_file_url");
}

TEST(Config, EnvFileDatabaseUrlFileIsRelativeToTheEnvFilesFolder) {
  AllSources sources(/*env_file_has_url=*/false);
  // The current directory is somewhere else: the path must not resolve there.
  const Config config = Load({"--app.env-file=" + sources.env_file}, {}, sources.elsewhere.str());
  EXPECT_EQ(config.database.source, ConfigSource::kEnvFile);
  EXPECT_EQ(config.database.origin, "DATABASE_URL_FILE in the env file " + sources.env_file);
  EXPECT_EQ(config.database.url.database, "from_env_file_url_file");
}

TEST(Config, RelativeProcessDatabaseUrlFileIsRelativeToTheCurrentDirectoryWithoutEnvFile) {
  TempDir cwd;
  cwd.Write("run/secrets/db.url", std::string(kProcessFileUrl) + "\n");
  const Config config = Load({}, {{"DATABASE_URL_FILE", "run/secrets/db.url"}}, cwd.str());
  EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
  EXPECT_EQ(config.database.url.database, "from_process_url_file");
}

TEST(Config, EmptyDatabaseUrlInEnvFileCountsAsMissing) {
  TempDir app;
  const std::string env_file = app.Write(".env", "DATABASE_URL=\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
  EXPECT_TRUE(HasProblem(config, "database_url_missing"));
}

TEST(Config, EmptyDatabaseUrlInEnvFileFallsThroughToDatabaseUrlFile) {
  TempDir app;
  app.Write("db.url", std::string(kEnvFileFileUrl) + "\n");
  const std::string env_file = app.Write(".env", "DATABASE_URL=\nDATABASE_URL_FILE=db.url\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kEnvFile);
  EXPECT_EQ(config.database.url.database, "from_env_file_url_file");
}

TEST(Config, EnvFileWithNeitherVariableFallsBackToTheDefault) {
  AllSources sources(/*env_file_has_url=*/false, /*env_file_has_url_file=*/false);
  const Config config = Load({"--app.env-file=" + sources.env_file}, {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
  EXPECT_EQ(config.database.url.type, DatabaseType::kSqlite);
  EXPECT_TRUE(HasProblem(config, "database_url_missing"));
}

TEST(Config, RelativeEnvFilePathIsResolvedAgainstTheCurrentDirectory) {
  TempDir app;
  app.Write("site/.env", std::string("DATABASE_URL=") + kEnvFileUrl + "\n");
  const Config config = Load({"--app.env-file=site/.env"}, {}, app.str());
  ASSERT_TRUE(config.database.env_file.has_value());
  EXPECT_EQ(*config.database.env_file, (app.path() / "site" / ".env").string());
  EXPECT_EQ(config.database.app_dir, (app.path() / "site").string());
  EXPECT_EQ(config.database.source, ConfigSource::kEnvFile);
}

// ------------------------------------------------------------ SQLite paths --

TEST(Config, RelativeSqlitePathResolvesUnderTheEnvFilesInstanceFolder) {
  TempDir app;
  const std::string env_file = app.Write(".env", "DATABASE_URL=sqlite:///caloria.db\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.sqlite_path, (app.path() / "instance" / "caloria.db").string());
  EXPECT_FALSE(HasProblem(config, "database_url_missing"));
}

TEST(Config, RelativeSqlitePathResolvesUnderTheAppFolderWhenAsked) {
  TempDir app;
  const std::string env_file = app.Write(".env", "DATABASE_URL=sqlite:///caloria.db\n");
  const Config config =
      Load({"--app.env-file=" + env_file, "--database.sqlite-relative-to=app"}, {}, "/");
  EXPECT_EQ(config.database.sqlite_relative_to, SqliteRelativeTo::kApp);
  EXPECT_EQ(config.database.sqlite_path, (app.path() / "caloria.db").string());
}

TEST(Config, RelativeSqlitePathWithoutEnvFileResolvesUnderTheCurrentDirectory) {
  TempDir cwd;
  const Config instance = Load({}, {{"DATABASE_URL", "sqlite:///data/app.db"}}, cwd.str());
  EXPECT_EQ(instance.database.sqlite_path, (cwd.path() / "instance" / "data" / "app.db").string());
  const Config app = Load({"--database.sqlite-relative-to", "app"},
                          {{"DATABASE_URL", "sqlite:///data/app.db"}}, cwd.str());
  EXPECT_EQ(app.database.sqlite_path, (cwd.path() / "data" / "app.db").string());
}

TEST(Config, AbsoluteSqlitePathIsKept) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", "DATABASE_URL=sqlite:////var/lib/caloria/app.db\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.sqlite_path, "/var/lib/caloria/app.db");
  const Config as_app =
      Load({"--app.env-file=" + env_file, "--database.sqlite-relative-to=app"}, {}, "/");
  EXPECT_EQ(as_app.database.sqlite_path, "/var/lib/caloria/app.db");
}

TEST(Config, InMemorySqliteHasNoPath) {
  TempDir cwd;
  for (const std::string url : {"sqlite://", "sqlite:///:memory:"}) {
    SCOPED_TRACE(url);
    const Config config = Load({}, {{"DATABASE_URL", url}}, cwd.str());
    EXPECT_EQ(config.database.url.type, DatabaseType::kSqlite);
    EXPECT_TRUE(config.database.url.IsSqliteMemory());
    EXPECT_EQ(config.database.sqlite_path, "");
    EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
    EXPECT_FALSE(HasProblem(config, "database_url_missing"));
  }
}

TEST(Config, PostgresqlUrlHasNoSqlitePath) {
  const Config config = Load({}, {{"DATABASE_URL", kProcessUrl}}, "/");
  EXPECT_EQ(config.database.url.type, DatabaseType::kPostgresql);
  EXPECT_EQ(config.database.sqlite_path, "");
}

TEST(Config, SqliteRelativeToRejectsUnknownValues) {
  ExpectOneLineUsageError({"--database.sqlite-relative-to=cwd"});
}

// ---------------------------------------------------------- env file trouble --

TEST(Config, MissingEnvFileIsAProblemNotAnError) {
  TempDir app;
  const std::string missing = (app / "no-such.env").string();
  Config config;
  ASSERT_NO_THROW(config = Load({"--app.env-file=" + missing}, {}, "/"));
  const Problem* unreadable = FindProblem(config, "env_file_unreadable");
  ASSERT_NE(unreadable, nullptr);
  EXPECT_EQ(unreadable->severity, HealthStatus::kDegraded);
  EXPECT_TRUE(Contains(unreadable->message, missing)) << unreadable->message;
  ASSERT_TRUE(config.database.env_file.has_value());
  EXPECT_EQ(*config.database.env_file, missing);
  EXPECT_EQ(config.database.app_dir, app.str());
  // Nothing else names a URL, so the app's fallback applies.
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
  EXPECT_TRUE(HasProblem(config, "database_url_missing"));
}

TEST(Config, UnreadableEnvFileStillLetsTheProcessEnvironmentWin) {
  TempDir app;
  const Config config = Load({"--app.env-file=" + (app / "absent.env").string()},
                             {{"DATABASE_URL", kProcessUrl}}, "/");
  EXPECT_TRUE(HasProblem(config, "env_file_unreadable"));
  EXPECT_EQ(config.database.source, ConfigSource::kEnvironment);
  EXPECT_FALSE(HasProblem(config, "database_url_missing"));
}

TEST(Config, EnvFileWithoutReadPermissionIsAProblem) {
  if (::geteuid() == 0) GTEST_SKIP() << "root reads files regardless of their permissions";
  TempDir app;
  const std::string env_file = app.Write(".env", std::string("DATABASE_URL=") + kEnvFileUrl + "\n");
  fs::permissions(env_file, fs::perms::none);
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_TRUE(HasProblem(config, "env_file_unreadable"));
  EXPECT_EQ(config.database.source, ConfigSource::kDefault);
}

TEST(Config, EnvFileThatIsADirectoryIsUnreadable) {
  TempDir app;
  fs::create_directories(app / "dot-env-dir");
  const Config config = Load({"--app.env-file=" + (app / "dot-env-dir").string()}, {}, "/");
  EXPECT_TRUE(HasProblem(config, "env_file_unreadable"));
}

// A FIFO named as the env file would block a plain open() until a writer
// came: the poll, and with it every reload, would hang.
TEST(Config, EnvFileThatIsAFifoIsUnreadableWithoutBlocking) {
  TempDir app;
  const std::string fifo = (app / "fifo.env").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Config config = Load({"--app.env-file=" + fifo}, {}, "/");
  const Problem* unreadable = FindProblem(config, "env_file_unreadable");
  ASSERT_NE(unreadable, nullptr);
  EXPECT_TRUE(Contains(unreadable->message, "not a regular file")) << unreadable->message;
}

TEST(Config, MalformedEnvFileLineIsAProblemAndTheRestIsStillRead) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", std::string("SECRET_KEY=dev\n=oops\nDATABASE_URL=") + kEnvFileUrl + "\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  const Problem* malformed = FindProblem(config, "env_file_malformed");
  ASSERT_NE(malformed, nullptr);
  EXPECT_EQ(malformed->severity, HealthStatus::kDegraded);
  EXPECT_TRUE(Contains(malformed->message, "line 2")) << malformed->message;
  ASSERT_FALSE(config.database.env_file_warnings.empty());
  EXPECT_EQ(config.database.env_file_warnings.front().line, 2);
  EXPECT_EQ(config.database.source, ConfigSource::kEnvFile);
  EXPECT_EQ(config.database.url.database, "from_env_file_url");
}

TEST(Config, WellFormedEnvFileHasNoWarnings) {
  TempDir app;
  const std::string env_file = app.Write(".env", std::string("DATABASE_URL=") + kEnvFileUrl + "\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_TRUE(config.database.env_file_warnings.empty());
  EXPECT_TRUE(config.database.problems.empty());
}

TEST(Config, EmptyEnvFileFlagIsAUsageError) { ExpectOneLineUsageError({"--app.env-file="}); }

// ---------------------------------------------------------- expected type --

TEST(Config, FlaskEnvProductionInEnvFileExpectsPostgresql) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", "FLASK_ENV=production\nDATABASE_URL=sqlite:///caloria.db\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  EXPECT_EQ(config.database.expected_type_reason, "FLASK_ENV=production");
  const Problem* unexpected = FindProblem(config, "database_type_unexpected");
  ASSERT_NE(unexpected, nullptr);
  EXPECT_EQ(unexpected->severity, HealthStatus::kUnhealthy);
  EXPECT_TRUE(Contains(unexpected->message, "sqlite")) << unexpected->message;
  EXPECT_TRUE(Contains(unexpected->message, "postgresql")) << unexpected->message;
}

TEST(Config, AppEnvProductionInProcessEnvironmentIsCaseInsensitive) {
  const Config config =
      Load({}, {{"APP_ENV", "PRODUCTION"}, {"DATABASE_URL", "sqlite:////srv/app.db"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  const Problem* unexpected = FindProblem(config, "database_type_unexpected");
  ASSERT_NE(unexpected, nullptr);
  EXPECT_EQ(unexpected->severity, HealthStatus::kUnhealthy);
}

TEST(Config, AppEnvProductionInEnvFileExpectsPostgresql) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", "APP_ENV=Production\nDATABASE_URL=sqlite:///caloria.db\n");
  const Config config = Load({"--app.env-file=" + env_file}, {}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  EXPECT_TRUE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, FlaskEnvProductionInProcessEnvironmentExpectsPostgresql) {
  const Config config =
      Load({}, {{"FLASK_ENV", "production"}, {"DATABASE_URL", "sqlite:////srv/app.db"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  EXPECT_TRUE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, ProductionWithPostgresqlHasNoTypeProblem) {
  const Config config = Load({}, {{"FLASK_ENV", "production"}, {"DATABASE_URL", kProcessUrl}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  EXPECT_FALSE(HasProblem(config, "database_type_unexpected"));
  EXPECT_TRUE(config.database.problems.empty());
}

TEST(Config, ProductionFallbackToSqliteIsUnhealthy) {
  const Config config = Load({}, {{"FLASK_ENV", "production"}}, "/");
  EXPECT_TRUE(HasProblem(config, "database_url_missing"));
  const Problem* unexpected = FindProblem(config, "database_type_unexpected");
  ASSERT_NE(unexpected, nullptr);
  EXPECT_EQ(unexpected->severity, HealthStatus::kUnhealthy);
}

TEST(Config, ProcessFlaskEnvBeatsTheEnvFile) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", "FLASK_ENV=production\nDATABASE_URL=sqlite:///caloria.db\n");
  const Config config = Load({"--app.env-file=" + env_file}, {{"FLASK_ENV", "development"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kAny);
  EXPECT_FALSE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, NonProductionEnvironmentExpectsAnyType) {
  const Config config =
      Load({}, {{"FLASK_ENV", "development"}, {"DATABASE_URL", "sqlite:////srv/app.db"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kAny);
  EXPECT_FALSE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, ExpectedTypeFlagOverridesProduction) {
  const Config config =
      Load({"--database.expected-type=any"},
           {{"FLASK_ENV", "production"}, {"DATABASE_URL", "sqlite:////srv/app.db"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kAny);
  EXPECT_FALSE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, ExpectedTypeFlagSqliteMakesPostgresqlUnexpected) {
  const Config config =
      Load({"--database.expected-type", "sqlite"}, {{"DATABASE_URL", kProcessUrl}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kSqlite);
  const Problem* unexpected = FindProblem(config, "database_type_unexpected");
  ASSERT_NE(unexpected, nullptr);
  EXPECT_EQ(unexpected->severity, HealthStatus::kUnhealthy);
}

TEST(Config, ExpectedTypeFlagPostgresqlWithoutProductionEnvironment) {
  const Config config =
      Load({"--database.expected-type=postgresql"}, {{"DATABASE_URL", "sqlite://"}}, "/");
  EXPECT_EQ(config.database.expected_type, ExpectedType::kPostgresql);
  EXPECT_TRUE(HasProblem(config, "database_type_unexpected"));
}

TEST(Config, ExpectedTypeNamesAreTheFlagValues) {
  EXPECT_STREQ(ExpectedTypeName(ExpectedType::kPostgresql), "postgresql");
  EXPECT_STREQ(ExpectedTypeName(ExpectedType::kSqlite), "sqlite");
  EXPECT_STREQ(ExpectedTypeName(ExpectedType::kAny), "any");
}

// ------------------------------------------------------------ URL problems --

TEST(Config, PostgresSchemeIsADeprecationProblem) {
  const Config config = Load({}, {{"DATABASE_URL", "postgres://u:pw@db:5432/caloria"}}, "/");
  EXPECT_EQ(config.database.url.type, DatabaseType::kPostgresql);
  const Problem* deprecated = FindProblem(config, "database_url_deprecated_scheme");
  ASSERT_NE(deprecated, nullptr);
  EXPECT_EQ(deprecated->severity, HealthStatus::kDegraded);
  EXPECT_TRUE(Contains(deprecated->message, "postgresql://")) << deprecated->message;
}

TEST(Config, PostgresqlSchemeIsNotDeprecated) {
  const Config config = Load({}, {{"DATABASE_URL", "postgresql+psycopg2://u:pw@db/caloria"}}, "/");
  EXPECT_FALSE(HasProblem(config, "database_url_deprecated_scheme"));
}

TEST(Config, UnencodedAtInThePasswordIsAnUnhealthyProblemWithTheFix) {
  for (const char* url : {"postgresql://caloria:S3cr@tPa55@127.0.0.1:1/caloria",
                          "postgresql://caloria:S3cr@tPa55/x@db/caloria",
                          "postgresql://caloria:S3cr@tPa55?x@db/caloria"}) {
    SCOPED_TRACE(url);
    const Config config = Load({}, {{"DATABASE_URL", url}}, "/");
    const Problem* problem = FindProblem(config, "database_url_unencoded_at");
    ASSERT_NE(problem, nullptr);
    EXPECT_EQ(problem->severity, HealthStatus::kUnhealthy);
    EXPECT_TRUE(Contains(problem->message, "%40")) << problem->message;
    EXPECT_TRUE(Contains(problem->message, "the environment variable DATABASE_URL"))
        << problem->message;
    EXPECT_EQ(problem->message.find('\n'), std::string::npos) << problem->message;
    for (const char* piece : {"S3cr", "tPa5", "Pa55"}) {
      EXPECT_FALSE(Contains(problem->message, piece)) << problem->message;
      EXPECT_FALSE(Contains(config.database.url.Redacted(), piece))
          << config.database.url.Redacted();
    }
  }
}

TEST(Config, EncodedAtOrAnAtInAQueryValueIsNoProblem) {
  for (const char* url : {"postgresql://caloria:S3cr%40tPa55@db/caloria",
                          "postgresql://caloria:pw@db/caloria?application_name=me@web1"}) {
    const Config config = Load({}, {{"DATABASE_URL", url}}, "/");
    EXPECT_FALSE(HasProblem(config, "database_url_unencoded_at")) << url;
  }
}

TEST(Config, UnencodedAtInAUrlFileIsReportedWithTheFile) {
  TempDir dir;
  const std::string file = dir.Write("db.url", "postgresql://u:S3cr@tPa55@db/caloria\n");
  const Config config = Load({"--database.url-file=" + file}, {}, "/");
  const Problem* problem = FindProblem(config, "database_url_unencoded_at");
  ASSERT_NE(problem, nullptr);
  EXPECT_TRUE(Contains(problem->message, "--database.url-file")) << problem->message;
}

TEST(Config, UnparsableDatabaseUrlIsAUsageErrorWithoutThePassword) {
  const Env env{{"DATABASE_URL", "postgresql://u:TopSecretPw@h:abc/db"}};
  const std::string message = UsageErrorFor({}, env);
  EXPECT_FALSE(message.empty());
  EXPECT_FALSE(Contains(message, "TopSecretPw")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
  EXPECT_TRUE(Contains(message, "the environment variable DATABASE_URL")) << message;
}

TEST(Config, UnparsableDatabaseUrlInEnvFileNamesTheFileButNotThePassword) {
  TempDir app;
  const std::string env_file =
      app.Write(".env", "DATABASE_URL=postgresql://u:TopSecretPw@h:abc/db\n");
  const std::string message = UsageErrorFor({"--app.env-file=" + env_file});
  EXPECT_FALSE(Contains(message, "TopSecretPw")) << message;
  EXPECT_TRUE(Contains(message, env_file)) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Config, UnparsableUrlInUrlFileIsAUsageErrorWithoutThePassword) {
  TempDir dir;
  const std::string file = dir.Write("db.url", "mysql://u:TopSecretPw@h/db\n");
  const std::string message = UsageErrorFor({"--database.url-file=" + file});
  EXPECT_FALSE(Contains(message, "TopSecretPw")) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Config, UnreadableUrlFileFlagIsAUsageError) {
  TempDir dir;
  const std::string missing = (dir / "absent.url").string();
  const std::string message = UsageErrorFor({"--database.url-file=" + missing});
  EXPECT_TRUE(Contains(message, missing)) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos) << message;
}

TEST(Config, UrlFileThatIsAFifoOrTooLargeIsAUsageErrorWithoutBlocking) {
  TempDir dir;
  const std::string fifo = (dir / "fifo.url").string();
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const std::string not_regular = UsageErrorFor({"--database.url-file=" + fifo});
  EXPECT_TRUE(Contains(not_regular, "not a regular file")) << not_regular;

  const std::string large =
      dir.Write("large.url", std::string(kEnvFileUrl) + "\n" + std::string(70 * 1024, '#'));
  const std::string too_large = UsageErrorFor({"--database.url-file=" + large});
  EXPECT_TRUE(Contains(too_large, "larger than 64 KiB")) << too_large;
  EXPECT_EQ(too_large.find('\n'), std::string::npos) << too_large;
}

TEST(Config, UnreadableDatabaseUrlFileVariableIsAUsageError) {
  TempDir dir;
  ExpectOneLineUsageError({}, {{"DATABASE_URL_FILE", (dir / "absent.url").string()}});
}

// ------------------------------------------------------------ usage errors --

TEST(Config, UnknownFlagIsAUsageError) {
  const std::string message = UsageErrorFor({"--web.listen-addr=:9841"});
  EXPECT_TRUE(Contains(message, "web.listen-addr")) << message;
  ExpectOneLineUsageError({"--nope"});
}

TEST(Config, PositionalArgumentIsAUsageError) { ExpectOneLineUsageError({"serve"}); }

TEST(Config, FlagWithoutValueIsAUsageError) {
  const std::string message = UsageErrorFor({"--log.level"});
  EXPECT_TRUE(Contains(message, "log.level")) << message;
  ExpectOneLineUsageError({"--collector.interval=15s", "--collector.timeout"});
}

TEST(Config, BadDurationIsAUsageError) {
  ExpectOneLineUsageError({"--collector.interval=fast"});
  ExpectOneLineUsageError({"--collector.interval=15"});
  ExpectOneLineUsageError({"--collector.timeout=-5s"});
  ExpectOneLineUsageError({"--collector.timeout="});
}

TEST(Config, ZeroDurationIsAUsageError) {
  ExpectOneLineUsageError({"--collector.interval=0s"});
  ExpectOneLineUsageError({"--collector.timeout=0s"});
}

TEST(Config, TimeoutLongerThanIntervalIsAUsageErrorWhenBothAreSet) {
  ExpectOneLineUsageError({"--collector.interval=1s", "--collector.timeout=2s"});
  ExpectOneLineUsageError({"--collector.interval=15s", "--collector.timeout=20s"});
}

TEST(Config, TheDefaultTimeoutFollowsAShorterInterval) {
  const Config two = Load({"--collector.interval=2s"}, {}, "/");
  EXPECT_EQ(two.interval, std::chrono::seconds(2));
  EXPECT_EQ(two.timeout, std::chrono::seconds(2));
  const Config tiny = Load({"--collector.interval=250ms"}, {}, "/");
  EXPECT_EQ(tiny.timeout, std::chrono::milliseconds(250));
  // A longer interval keeps the 5 s default: a slow database is still down.
  const Config minute = Load({"--collector.interval=1m"}, {}, "/");
  EXPECT_EQ(minute.timeout, std::chrono::seconds(5));
}

TEST(Config, TheDefaultIntervalMakesRoomForALongerTimeout) {
  const Config config = Load({"--collector.timeout=20s"}, {}, "/");
  EXPECT_EQ(config.timeout, std::chrono::seconds(20));
  EXPECT_EQ(config.interval, std::chrono::seconds(20));
  const Config shorter = Load({"--collector.timeout=3s"}, {}, "/");
  EXPECT_EQ(shorter.interval, std::chrono::seconds(15));
}

TEST(Config, TimeoutEqualToIntervalIsAccepted) {
  const Config config = Load({"--collector.interval=10s", "--collector.timeout=10s"}, {}, "/");
  EXPECT_EQ(config.interval, std::chrono::seconds(10));
  EXPECT_EQ(config.timeout, std::chrono::seconds(10));
}

TEST(Config, DurationsInPrometheusSyntax) {
  const Config config = Load({"--collector.interval=1m30s", "--collector.timeout=500ms"}, {}, "/");
  EXPECT_EQ(config.interval, std::chrono::seconds(90));
  EXPECT_EQ(config.timeout, std::chrono::milliseconds(500));
}

TEST(Config, BadLogLevelIsAUsageError) { ExpectOneLineUsageError({"--log.level=verbose"}); }

TEST(Config, BadLogFormatIsAUsageError) { ExpectOneLineUsageError({"--log.format=xml"}); }

TEST(Config, LogFlagsAreRead) {
  const Config config = Load({"--log.level=debug", "--log.format=json"}, {}, "/");
  EXPECT_EQ(config.log_level, LogLevel::kDebug);
  EXPECT_EQ(config.log_format, LogFormat::kJson);
}

TEST(Config, BadExpectedTypeIsAUsageError) {
  ExpectOneLineUsageError({"--database.expected-type=mysql"});
  ExpectOneLineUsageError({"--database.expected-type=PostgreSQL"});
}

TEST(Config, ListenAddressWithoutPortIsAUsageError) {
  ExpectOneLineUsageError({"--web.listen-address=9841"});
  ExpectOneLineUsageError({"--web.listen-address=localhost"});
  ExpectOneLineUsageError({"--web.listen-address=localhost:"});
}

TEST(Config, ListenAddressWithPortOutOfRangeIsAUsageError) {
  ExpectOneLineUsageError({"--web.listen-address=:0"});
  ExpectOneLineUsageError({"--web.listen-address=:70000"});
  ExpectOneLineUsageError({"--web.listen-address=127.0.0.1:70000"});
  ExpectOneLineUsageError({"--web.listen-address=:http"});
}

TEST(Config, UnbracketedIpv6ListenAddressIsAUsageError) {
  const std::string message = UsageErrorFor({"--web.listen-address=::1:9841"});
  EXPECT_TRUE(Contains(message, "[::1]:9841")) << message;
}

TEST(Config, ListenAddressForms) {
  const Config ipv6 = Load({"--web.listen-address=[::1]:9841"}, {}, "/");
  EXPECT_EQ(ipv6.listen.text, "[::1]:9841");
  EXPECT_EQ(ipv6.listen.host, "::1");
  EXPECT_EQ(ipv6.listen.port, 9841);
  const Config ipv4 = Load({"--web.listen-address", "127.0.0.1:9841"}, {}, "/");
  EXPECT_EQ(ipv4.listen.text, "127.0.0.1:9841");
  EXPECT_EQ(ipv4.listen.host, "127.0.0.1");
  EXPECT_EQ(ipv4.listen.port, 9841);
  const Config port_only = Load({"--web.listen-address=:19841"}, {}, "/");
  EXPECT_EQ(port_only.listen.host, "");
  EXPECT_EQ(port_only.listen.port, 19841);
}

TEST(Config, TelemetryPathMustStartWithSlash) {
  ExpectOneLineUsageError({"--web.telemetry-path=metrics"});
  ExpectOneLineUsageError({"--web.telemetry-path="});
}

TEST(Config, TelemetryPathMustNotBeUnderHealth) {
  ExpectOneLineUsageError({"--web.telemetry-path=/health"});
  ExpectOneLineUsageError({"--web.telemetry-path=/health/metrics"});
}

TEST(Config, TelemetryPathMustNotBeRoot) { ExpectOneLineUsageError({"--web.telemetry-path=/"}); }

TEST(Config, TelemetryPathIsRead) {
  const Config config = Load({"--web.telemetry-path", "/probe/metrics"}, {}, "/");
  EXPECT_EQ(config.telemetry_path, "/probe/metrics");
}

// ------------------------------------------------------------- flag syntax --

TEST(Config, FlagValueMayFollowAsTheNextArgument) {
  TempDir dir;
  const std::string file = dir.Write("db.url", std::string(kFlagFileUrl));
  const Config config = Load({"--database.url-file", file, "--collector.interval", "30s",
                              "--collector.timeout", "10s", "--log.level", "warn"},
                             {}, "/");
  EXPECT_EQ(config.database.source, ConfigSource::kFlag);
  EXPECT_EQ(config.interval, std::chrono::seconds(30));
  EXPECT_EQ(config.timeout, std::chrono::seconds(10));
  EXPECT_EQ(config.log_level, LogLevel::kWarn);
}

TEST(Config, LaterFlagWins) {
  const Config config = Load({"--log.level=debug", "--log.level=error"}, {}, "/");
  EXPECT_EQ(config.log_level, LogLevel::kError);
}

TEST(Config, UsageTextListsEveryFlag) {
  const std::string usage = UsageText("", ExporterFlagGroups(), EnvironmentHelp());
  for (const char* flag :
       {"--web.listen-address", "--web.telemetry-path", "--app.env-file", "--database.url-file",
        "--database.expected-type", "--database.sqlite-relative-to", "--collector.interval",
        "--collector.timeout", "--log.level", "--log.format", "--help", "--version",
        "DATABASE_URL_FILE"}) {
    EXPECT_TRUE(Contains(usage, flag)) << flag;
  }
}

TEST(Config, ConfigSourceNamesAreLabelValues) {
  EXPECT_STREQ(ConfigSourceName(ConfigSource::kFlag), "flag");
  EXPECT_STREQ(ConfigSourceName(ConfigSource::kEnvironment), "environment");
  EXPECT_STREQ(ConfigSourceName(ConfigSource::kEnvFile), "env_file");
  EXPECT_STREQ(ConfigSourceName(ConfigSource::kConfigFile), "config_file");
  EXPECT_STREQ(ConfigSourceName(ConfigSource::kDefault), "default");
}

// ---------------------------------------------------------- many targets --

TEST(Config, WithoutAConfigFileTheFlagsDescribeOneUnnamedTarget) {
  TempDir cwd;
  const Config config = Load({"--collector.max-parallel=3"}, {}, cwd.str());
  EXPECT_TRUE(config.targets_file.empty());
  ASSERT_EQ(config.targets.size(), 1u);
  EXPECT_EQ(config.targets[0].name, "");
  EXPECT_EQ(config.targets[0].database.url.Redacted(), config.database.url.Redacted());
  EXPECT_EQ(config.max_parallel, 3);
}

TEST(Config, EachTargetFindsItsOwnDatabaseNotTheExportersEnvironment) {
  TempDir dir;
  dir.Write("app/.env",
            "DATABASE_URL=postgresql://app:pw@db.internal/caloria\nFLASK_ENV=production\n");
  const std::string file = dir.Write("targets.yml", R"(
targets:
  - name: production
    env_file: app/.env
  - name: customer
    url: sqlite:////srv/customer/caloria.db
)");
  // The exporter's own environment points elsewhere: no target takes it.
  const Config config = Load(
      {"--config.file=" + file},
      {{"DATABASE_URL", "postgresql://exporter@elsewhere/x"}, {"FLASK_ENV", "development"}}, "/");
  EXPECT_EQ(config.targets_file, file);
  ASSERT_EQ(config.targets.size(), 2u);
  const Target& production = config.targets[0];
  EXPECT_EQ(production.name, "production");
  EXPECT_EQ(production.database.url.host, "db.internal");
  EXPECT_EQ(production.database.source, ConfigSource::kEnvFile);
  EXPECT_EQ(production.database.expected_type, ExpectedType::kPostgresql)
      << "FLASK_ENV=production from the target's own env file";
  EXPECT_EQ(production.flags.Get("app.env-file"), (dir / "app/.env").string());
  const Target& customer = config.targets[1];
  EXPECT_EQ(customer.database.source, ConfigSource::kConfigFile);
  EXPECT_EQ(customer.database.sqlite_path, "/srv/customer/caloria.db");
  EXPECT_TRUE(Contains(customer.database.origin, "target customer in " + file));
  EXPECT_EQ(customer.database.expected_type, ExpectedType::kAny);
  // The reloader watches the targets file through every target.
  EXPECT_NE(
      std::find(customer.database.files_read.begin(), customer.database.files_read.end(), file),
      customer.database.files_read.end());
  // What a target's collectors see.
  const Config one = ConfigForTarget(config, customer);
  EXPECT_EQ(one.database.sqlite_path, "/srv/customer/caloria.db");
  EXPECT_EQ(one.flags.Get("config.file"), std::nullopt);
  EXPECT_EQ(one.listen.text, config.listen.text);
}

TEST(Config, CommandLineFlagsAreEveryTargetsDefault) {
  TempDir dir;
  const std::string file = dir.Write("targets.yml", R"(
targets:
  - name: a
    url: sqlite:////a.db
  - name: b
    url: sqlite:////b.db
    expected_type: sqlite
)");
  const Config config =
      Load({"--config.file=" + file, "--database.expected-type=postgresql"}, {}, "/");
  EXPECT_EQ(config.targets[0].database.expected_type, ExpectedType::kPostgresql);
  EXPECT_EQ(config.targets[1].database.expected_type, ExpectedType::kSqlite);
}

TEST(Config, ATargetsFileIsAUsageErrorWhenBadAndNeverShowsAUrl) {
  TempDir dir;
  const std::string file = dir.Write("targets.yml", "targets:\n  - name: a\n    url: sqlite://\n");
  EXPECT_TRUE(Contains(UsageErrorFor({"--config.file=" + file, "--app.env-file=/x/.env"}),
                       "--app.env-file cannot be combined with --config.file"));
  EXPECT_TRUE(Contains(UsageErrorFor({"--config.file=" + file, "--database.url-file=/x"}),
                       "--database.url-file cannot be combined with --config.file"));
  EXPECT_TRUE(Contains(UsageErrorFor({"--config.file=" + (dir / "missing.yml").string()}),
                       "missing.yml: cannot be opened"));
  EXPECT_TRUE(Contains(UsageErrorFor({"--collector.max-parallel=0"}), "collector.max-parallel"));
  const std::string bad_url = dir.Write(
      "bad.yml", "targets:\n  - name: a\n    url: mysql://caloria:Pa55wordXY@db/caloria\n");
  const std::string error = UsageErrorFor({"--config.file=" + bad_url});
  EXPECT_TRUE(Contains(error, "target a: ")) << error;
  EXPECT_FALSE(Contains(error, "Pa55")) << error;
  ExpectOneLineUsageError({"--config.file=" + bad_url});
}

}  // namespace
}  // namespace caloria
