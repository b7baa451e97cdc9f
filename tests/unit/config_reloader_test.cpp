#include "config/config_reloader.h"

#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;

void Write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

// The exporter's reload path with an env file in a scratch folder and an
// empty process environment.
struct Harness {
  TempDir dir;
  std::string env_file = dir.File(".env");
  std::ostringstream log;
  Logger logger{log, LogLevel::kDebug, LogFormat::kLogfmt};
  ConfigReloader::Loader load = [this] {
    FlagValues flags;
    flags.Set("app.env-file", env_file);
    return LoadConfig(
        flags, [](const std::string&) { return std::optional<std::string>(); }, dir.Path());
  };
  std::unique_ptr<ConfigStore> store;
  std::unique_ptr<ConfigReloader> reloader;

  explicit Harness(const std::string& env_text,
                   const std::pair<std::string, std::string>& extra_file = {}) {
    if (!extra_file.first.empty()) Write(dir.File(extra_file.first), extra_file.second);
    Write(env_file, env_text);
    store = std::make_unique<ConfigStore>(std::make_shared<const Config>(*load()));
    reloader = std::make_unique<ConfigReloader>(load, *store, logger, std::chrono::milliseconds(0));
  }
  std::string Url() const { return store->Latest()->database.url.Redacted(); }
  bool HasProblem(const std::string& check) const {
    for (const auto& problem : store->Latest()->database.problems) {
      if (problem.check == check) return true;
    }
    return false;
  }
};

constexpr const char* kPostgres = "DATABASE_URL=postgresql://caloria:pw@db/caloria\n";

TEST(ConfigReloader, NothingChangedMeansNoReload) {
  Harness h(kPostgres);
  EXPECT_FALSE(h.reloader->ReloadIfFilesChanged());
  EXPECT_TRUE(h.reloader->LastReload().last_successful);
}

TEST(ConfigReloader, AnEnvFileThatLosesItsDatabaseUrlIsSeenAtTheNextCheck) {
  Harness h(kPostgres);
  const auto before = h.store->Latest();
  Write(h.env_file, "SECRET_KEY=dev\n");
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  EXPECT_TRUE(h.HasProblem("database_url_missing"));
  EXPECT_EQ(h.Url(), "sqlite:///caloria.db");
  // A reader holding the old configuration keeps it whole.
  EXPECT_EQ(before->database.url.Redacted(), "postgresql://caloria:***@db/caloria");
  EXPECT_FALSE(h.reloader->ReloadIfFilesChanged());
}

TEST(ConfigReloader, AnInvalidChangeIsRejectedAndTheOldConfigurationKept) {
  Harness h(kPostgres);
  const SystemTime loaded_at = h.reloader->LastReload().last_success;
  Write(h.env_file, "DATABASE_URL=postgresql://caloria:S3cretPw@db:port/caloria\n");
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  const ReloadStatus status = h.reloader->LastReload();
  EXPECT_FALSE(status.last_successful);
  ASSERT_TRUE(status.error.has_value());
  EXPECT_EQ(status.error->find("S3cretPw"), std::string::npos) << *status.error;
  EXPECT_EQ(status.last_success, loaded_at);
  EXPECT_EQ(h.Url(), "postgresql://caloria:***@db/caloria");
  EXPECT_EQ(h.log.str().find("S3cretPw"), std::string::npos) << h.log.str();
  // The rejected files are not retried at every poll, only when they change again.
  EXPECT_FALSE(h.reloader->ReloadIfFilesChanged());
  Write(h.env_file, "DATABASE_URL=sqlite:///app.db\n");
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  EXPECT_TRUE(h.reloader->LastReload().last_successful);
  EXPECT_FALSE(h.reloader->LastReload().error.has_value());
  EXPECT_EQ(h.Url(), "sqlite:///app.db");
}

TEST(ConfigReloader, AnExplicitReloadReadsTheFilesAgain) {
  Harness h(kPostgres);
  Write(h.env_file, "DATABASE_URL=sqlite:///other.db\n");
  EXPECT_TRUE(h.reloader->Reload("SIGHUP").ok());
  EXPECT_EQ(h.Url(), "sqlite:///other.db");
  EXPECT_NE(h.log.str().find("trigger=SIGHUP"), std::string::npos) << h.log.str();
}

TEST(ConfigReloader, AnEnvFileThatAppearsIsRead) {
  Harness h(kPostgres);
  std::remove(h.env_file.c_str());
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  EXPECT_TRUE(h.HasProblem("env_file_unreadable"));
  Write(h.env_file, kPostgres);
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  EXPECT_FALSE(h.HasProblem("env_file_unreadable"));
}

TEST(ConfigReloader, AUrlFileIsWatchedToo) {
  Harness h("DATABASE_URL_FILE=db.url\n", {"db.url", "postgresql://a@db/one\n"});
  EXPECT_EQ(h.Url(), "postgresql://a@db/one");
  EXPECT_FALSE(h.reloader->ReloadIfFilesChanged());
  Write(h.dir.File("db.url"), "postgresql://a@db/two\n");
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged());
  EXPECT_EQ(h.Url(), "postgresql://a@db/two");
}

TEST(ConfigReloader, LooksAtTheFilesAtMostOncePerGap) {
  // Many targets' config collectors each ask at every poll.
  Harness h("DATABASE_URL=sqlite:////a.db\n");
  ConfigReloader gated(h.load, *h.store, h.logger, std::chrono::hours(1));
  EXPECT_FALSE(gated.ReloadIfFilesChanged());
  Write(h.env_file, "DATABASE_URL=sqlite:////b.db\n");
  EXPECT_FALSE(gated.ReloadIfFilesChanged()) << "asked again within the gap";
  EXPECT_TRUE(h.reloader->ReloadIfFilesChanged()) << "the change is there to see";
}

}  // namespace
}  // namespace caloria
