#include "config/targets_file.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

constexpr const char* kPath = "/etc/caloria/targets.yml";

Result<TargetsFile> Parse(const std::string& text) { return ParseTargetsText(text, kPath); }

std::string ErrorOf(const std::string& text) {
  const Result<TargetsFile> parsed = Parse(text);
  EXPECT_FALSE(parsed) << text;
  return parsed ? "" : parsed.error();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(TargetsFile, ReadsEveryTargetInFileOrderWithItsSettingsAsFlags) {
  const Result<TargetsFile> file = Parse(R"(
targets:
  - name: production
    env_file: /srv/caloria/.env
    backup_dir: /var/backups/caloria
    backup_max_age: 30h
    users_query: SELECT count(*) FROM accounts
  - name: customer-a.eu_1
    url: sqlite:////srv/a/instance/caloria.db
)");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(file->path, kPath);
  ASSERT_EQ(file->targets.size(), 2u);
  const TargetSpec& production = file->targets[0];
  EXPECT_EQ(production.name, "production");
  EXPECT_EQ(production.settings.Get("app.env-file"), "/srv/caloria/.env");
  EXPECT_EQ(production.settings.Get("backup.dir"), "/var/backups/caloria");
  EXPECT_EQ(production.settings.Get("backup.max-age"), "30h");
  EXPECT_EQ(production.settings.Get("database.users-query"), "SELECT count(*) FROM accounts");
  EXPECT_FALSE(production.url);
  const TargetSpec& customer = file->targets[1];
  EXPECT_EQ(customer.name, "customer-a.eu_1");
  ASSERT_TRUE(customer.url);
  EXPECT_EQ(customer.url->Reveal(), "sqlite:////srv/a/instance/caloria.db");
  EXPECT_FALSE(customer.settings.Get("backup.dir"));
}

TEST(TargetsFile, RelativePathsAreTakenFromTheFilesFolder) {
  const Result<TargetsFile> file = Parse(R"(
targets:
  - name: a
    url_file: secrets/a.url
    backup_dir: ../backups/a
    backup_pattern: caloria_*.sql.gz
)");
  ASSERT_TRUE(file) << file.error();
  EXPECT_EQ(file->targets[0].settings.Get("database.url-file"), "/etc/caloria/secrets/a.url");
  EXPECT_EQ(file->targets[0].settings.Get("backup.dir"), "/etc/backups/a");
  EXPECT_EQ(file->targets[0].settings.Get("backup.pattern"), "caloria_*.sql.gz")
      << "a pattern is not a path";
}

TEST(TargetsFile, EveryKeyStandsForADeclaredFlagOrIsNameOrUrl) {
  for (const TargetKey& key : TargetKeys()) {
    const std::string name = key.key;
    if (name == "name" || name == "url") {
      EXPECT_EQ(key.flag, nullptr) << name;
      continue;
    }
    ASSERT_NE(key.flag, nullptr) << name;
    // The key is the flag's name with its dots and dashes as underscores,
    // give or take the group's prefix: backup.dir is backup_dir, app.env-file env_file.
    std::string flag = key.flag;
    for (char& c : flag) {
      if (c == '.' || c == '-') c = '_';
    }
    EXPECT_TRUE(flag == name || flag.ends_with("_" + name)) << name << " stands for " << key.flag;
  }
}

TEST(TargetsFile, StrictAboutKeysNamesAndDatabases) {
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n    backup_folder: x\n"),
                       "target a: unknown key 'backup_folder': use name, url, env_file"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n    url: sqlite://\n"),
                       "target a: 'url' is given twice"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n"
                               "  - name: a\n    url: sqlite://\n"),
                       "target a: is named twice"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    backup_dir: /b\n"),
                       "target a: names no database: give it env_file"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n    url_file: /u\n"),
                       "has both url and url_file"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - url: sqlite://\n"), "target 1: needs a name"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: ''\n    url: sqlite://\n"), "needs a name"));
  EXPECT_TRUE(Contains(ErrorOf("target:\n  - name: a\n"), "unknown key 'target'"));
  EXPECT_TRUE(Contains(ErrorOf("targets: []\n"), "is not a list of targets"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - just a string\n"), "target 1: is a single value"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n    backup_dir: [x]\n"),
                       "'backup_dir' is not a single non-empty value"));
  EXPECT_TRUE(Contains(ErrorOf("- name: a\n"), "is a list, not a mapping"));
  EXPECT_TRUE(Contains(ErrorOf(""), "holds no targets"));
}

TEST(TargetsFile, NamesAreNeverUrlsHostsOrPaths) {
  for (const char* bad : {"http://127.0.0.1:5432/", "127.0.0.1:5432", "host/path", "a@b", "a b",
                          "%2F", "a?b", "a#b", "a\nb", "ünïcode"}) {
    EXPECT_FALSE(IsTargetName(bad)) << bad;
    EXPECT_TRUE(
        Contains(ErrorOf(std::string("targets:\n  - name: \"") + bad + "\"\n    url: sqlite://\n"),
                 "needs a name"))
        << bad;
  }
  EXPECT_FALSE(IsTargetName(std::string(65, 'a')));
  EXPECT_TRUE(IsTargetName(std::string(64, 'a')));
  EXPECT_TRUE(IsTargetName("prod-eu.1_a"));
}

TEST(TargetsFile, ErrorsNeverQuoteAUrl) {
  const std::string password = "S3cretPassw0rd";
  const std::string url = "postgresql://caloria:" + password + "@db:5432/caloria";
  for (const std::string& text : {
           "targets:\n  - name: a\n    url: " + url + "\n    url: " + url + "\n",
           "targets:\n  - name: a\n    url: " + url + "\n    url_file: /u\n",
           "targets:\n  - name: a\n    url: " + url + "\n    " + url + ": x\n",
           "targets:\n  - name: a\n    url: [" + url + "\n",
           "targets:\n  - name: " + url + "\n",
       }) {
    const std::string error = ErrorOf(text);
    EXPECT_FALSE(Contains(error, "S3cr")) << error;
    EXPECT_FALSE(Contains(error, "Passw")) << error;
  }
}

TEST(TargetsFile, RefusesWhatNoTargetsFileNeeds) {
  std::string many = "targets:\n";
  for (std::size_t i = 0; i <= kMaxTargets; ++i) {
    many += "  - name: t" + std::to_string(i) + "\n    url: sqlite://\n";
  }
  EXPECT_TRUE(Contains(ErrorOf(many), "more than 500"));
  EXPECT_TRUE(Contains(ErrorOf(std::string(kMaxTargetsFileBytes + 1, '#')), "is larger than"));
  EXPECT_TRUE(Contains(ErrorOf("targets:\n  - name: a\n    url: sqlite://\n---\nx: 1\n"),
                       "second YAML document"));
  EXPECT_TRUE(Contains(ErrorOf(std::string(5000, '[')), "--config.file " + std::string(kPath)));
}

TEST(TargetsFile, LoadNamesTheFileItCannotRead) {
  const Result<TargetsFile> missing = LoadTargetsFile("/nonexistent/targets.yml");
  ASSERT_FALSE(missing);
  EXPECT_TRUE(Contains(missing.error(), "--config.file /nonexistent/targets.yml: cannot be opened"))
      << missing.error();
}

}  // namespace
}  // namespace caloria
