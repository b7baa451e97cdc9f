#include "collectors/backup/backup_settings.h"

#include <gtest/gtest.h>

#include <string>
#include <utility>
#include <vector>

namespace caloria {
namespace {

using std::chrono::hours;
using std::chrono::minutes;

FlagValues Flags(const std::vector<std::pair<std::string, std::string>>& values) {
  FlagValues flags;
  for (const auto& [name, value] : values) flags.Set(name, value);
  return flags;
}

void ExpectOneLineUsageError(const std::vector<std::pair<std::string, std::string>>& values) {
  const Result<BackupSettings> settings = BackupSettingsFromFlags(Flags(values));
  ASSERT_FALSE(settings.ok()) << values[0].first << "=" << values[0].second;
  EXPECT_NE(settings.error().find("--" + values[0].first), std::string::npos) << settings.error();
  EXPECT_EQ(settings.error().find('\n'), std::string::npos) << settings.error();
}

TEST(BackupSettings, DefaultsWithoutFlags) {
  const Result<BackupSettings> settings = BackupSettingsFromFlags(FlagValues{});
  ASSERT_TRUE(settings.ok());
  EXPECT_EQ(settings->dir, "/var/backups/caloria");
  EXPECT_EQ(settings->pattern, "caloria_*.sql.gz");
  EXPECT_EQ(settings->max_age, hours(26));
  EXPECT_EQ(settings->retention, hours(24 * 7));
  EXPECT_EQ(settings->log_path, std::nullopt);
  EXPECT_EQ(settings->users_table, "users");
  EXPECT_EQ(settings->verify_timeout, minutes(10));
}

TEST(BackupSettings, FlagsAreRead) {
  const Result<BackupSettings> settings =
      BackupSettingsFromFlags(Flags({{"backup.dir", "/srv/b"},
                                     {"backup.pattern", "caloria_*.db"},
                                     {"backup.max-age", "2d"},
                                     {"backup.retention", "30d"},
                                     {"backup.log", "/var/log/caloria-backup.log"},
                                     {"backup.users-table", "accounts"},
                                     {"backup.verify-timeout", "1h"}}));
  ASSERT_TRUE(settings.ok()) << settings.error();
  EXPECT_EQ(settings->dir, "/srv/b");
  EXPECT_EQ(settings->pattern, "caloria_*.db");
  EXPECT_EQ(settings->max_age, hours(48));
  EXPECT_EQ(settings->retention, hours(24 * 30));
  EXPECT_EQ(settings->log_path, "/var/log/caloria-backup.log");
  EXPECT_EQ(settings->users_table, "accounts");
  EXPECT_EQ(settings->verify_timeout, hours(1));
}

TEST(BackupSettings, AnEmptyLogFlagMeansNoLog) {
  EXPECT_EQ(BackupSettingsFromFlags(Flags({{"backup.log", ""}}))->log_path, std::nullopt);
}

TEST(BackupSettings, BadValuesAreOneLineUsageErrors) {
  ExpectOneLineUsageError({{"backup.dir", ""}});
  ExpectOneLineUsageError({{"backup.pattern", ""}});
  ExpectOneLineUsageError({{"backup.pattern", "backups/caloria_*"}});
  ExpectOneLineUsageError({{"backup.max-age", "0s"}});
  ExpectOneLineUsageError({{"backup.retention", "a week"}});
  ExpectOneLineUsageError({{"backup.verify-timeout", "-1m"}});
  ExpectOneLineUsageError({{"backup.users-table", ""}});
}

}  // namespace
}  // namespace caloria
