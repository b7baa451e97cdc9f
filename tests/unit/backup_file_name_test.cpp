#include "collectors/backup/backup_file_name.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <ctime>
#include <optional>
#include <string>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::ScopedTimeZone;

// POSIX rule strings need no tzdata, so these zones work in any container.
constexpr const char* kUtc = "UTC0";
constexpr const char* kBerlin = "CET-1CEST,M3.5.0,M10.5.0/3";  // UTC+1, summer UTC+2
constexpr const char* kNewYork = "EST5EDT,M3.2.0,M11.1.0";     // UTC-5, summer UTC-4

// 2025-07-24 20:30:33 UTC and 2025-07-24 20:24:35 UTC.
constexpr std::time_t kSeedGzipUtc = 1753389033;
constexpr std::time_t kSeedSqliteUtc = 1753388675;
// 2025-07-24 00:00:00 UTC.
constexpr std::time_t kMidnightUtc = 1753315200;

TEST(BackupFileName, SeedGzipNameIsReadInLocalTime) {
  {
    ScopedTimeZone zone(kUtc);
    EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033.sql.gz"), kSeedGzipUtc);
  }
  {
    ScopedTimeZone zone(kBerlin);  // summer: 20:30:33 in Berlin is 18:30:33 UTC
    EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033.sql.gz"), kSeedGzipUtc - 2 * 3600);
  }
  {
    ScopedTimeZone zone(kNewYork);  // summer: 20:30:33 in New York is 00:30:33 UTC next day
    EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033.sql.gz"), kSeedGzipUtc + 4 * 3600);
  }
}

TEST(BackupFileName, SeedSqliteNameIsReadInLocalTime) {
  {
    ScopedTimeZone zone(kUtc);
    EXPECT_EQ(TimestampFromFileName("caloria_backup_20250724_202435.db"), kSeedSqliteUtc);
  }
  {
    ScopedTimeZone zone(kBerlin);
    EXPECT_EQ(TimestampFromFileName("caloria_backup_20250724_202435.db"),
              kSeedSqliteUtc - 2 * 3600);
  }
}

TEST(BackupFileName, WinterNamesUseTheStandardOffset) {
  ScopedTimeZone zone(kBerlin);  // 2025-01-15 12:00:00 CET is 11:00:00 UTC
  EXPECT_EQ(TimestampFromFileName("caloria_20250115_120000.sql.gz"), std::time_t{1736938800});
}

TEST(BackupFileName, EveryDocumentedFormatGivesTheSameTime) {
  ScopedTimeZone zone(kUtc);
  for (const char* name : {
           "caloria_20250724_203033.sql.gz",       // YYYYMMDD_HHMMSS
           "caloria_20250724T203033.sql.gz",       // YYYYMMDDTHHMMSS
           "caloria_20250724203033.sql.gz",        // YYYYMMDDHHMMSS
           "caloria_2025-07-24_20-30-33.sql.gz",   // YYYY-MM-DD_HH-MM-SS
           "caloria_2025-07-24T20:30:33.sql.gz",   // YYYY-MM-DDTHH:MM:SS
           "20250724_203033",                      // nothing around it
           "caloria-20250724_203033-full.sql.gz",  // other separators around it
       }) {
    EXPECT_EQ(TimestampFromFileName(name), kSeedGzipUtc) << name;
  }
}

TEST(BackupFileName, DateAloneIsReadAsLocalMidnight) {
  {
    ScopedTimeZone zone(kUtc);
    EXPECT_EQ(TimestampFromFileName("caloria_20250724.sql.gz"), kMidnightUtc);
    EXPECT_EQ(TimestampFromFileName("caloria_2025-07-24.sql.gz"), kMidnightUtc);
  }
  {
    ScopedTimeZone zone(kBerlin);
    EXPECT_EQ(TimestampFromFileName("caloria_20250724.sql.gz"), kMidnightUtc - 2 * 3600);
  }
}

TEST(BackupFileName, NameWithoutTimestampHasNone) {
  ScopedTimeZone zone(kUtc);
  for (const char* name : {"", "caloria.sql.gz", "caloria_latest.sql.gz", "backup.db",
                           "caloria_2025.sql.gz", "caloria_202507.sql.gz", "caloria_.sql.gz"}) {
    EXPECT_EQ(TimestampFromFileName(name), std::nullopt) << name;
  }
}

TEST(BackupFileName, LastTimestampInTheNameWins) {
  ScopedTimeZone zone(kUtc);
  // The later position wins, not the later time.
  EXPECT_EQ(TimestampFromFileName("caloria_20240101_000000_restored_20250724_203033.sql.gz"),
            kSeedGzipUtc);
  EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033_copy_of_20250724.sql.gz"), kMidnightUtc);
}

TEST(BackupFileName, ImpossibleDatesAreNotTimestamps) {
  ScopedTimeZone zone(kUtc);
  for (const char* name : {
           "caloria_20251330_120000.sql.gz",  // month 13 ...
           "caloria_20251330.sql.gz",         // ... with and without a time
           "caloria_20250015_120000.sql.gz",  // month 0
           "caloria_20250700_120000.sql.gz",  // day 0
           "caloria_20250732_120000.sql.gz",  // July 32
           "caloria_20250230_120000.sql.gz",  // Feb 30
           "caloria_20250431_120000.sql.gz",  // April 31
           "caloria_20250724_243033.sql.gz",  // hour 24
           "caloria_20250724_206033.sql.gz",  // minute 60
           "caloria_2025-13-01.sql.gz",
       }) {
    EXPECT_EQ(TimestampFromFileName(name), std::nullopt) << name;
  }
}

TEST(BackupFileName, ImpossibleLastTimestampLeavesTheEarlierOne) {
  ScopedTimeZone zone(kUtc);
  EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033_20251330.sql.gz"), kSeedGzipUtc);
}

TEST(BackupFileName, February29ExistsOnlyInLeapYears) {
  ScopedTimeZone zone(kUtc);
  EXPECT_EQ(TimestampFromFileName("caloria_20240229_000000.sql.gz"), std::time_t{1709164800});
  EXPECT_EQ(TimestampFromFileName("caloria_20000229_120000.sql.gz"),  // divisible by 400
            std::time_t{951825600});
  EXPECT_EQ(TimestampFromFileName("caloria_20250229_000000.sql.gz"), std::nullopt);
  EXPECT_EQ(TimestampFromFileName("caloria_21000229_000000.sql.gz"),  // divisible by 100
            std::nullopt);
  EXPECT_EQ(TimestampFromFileName("caloria_20250228_235959.sql.gz"),
            std::time_t{1740787199});  // the last second of a non-leap February
}

TEST(BackupFileName, DigitsTouchingDigitsAreNotATimestamp) {
  ScopedTimeZone zone(kUtc);
  for (const char* name : {
           "x120250724_203033",                // a digit before the date
           "caloria_120250724_203033.sql.gz",  // the same inside a name
           "caloria_2025072420303312.sql.gz",  // 16 digits
           "1234567890123456",
           "caloria_202507241.sql.gz",  // 9 digits
       }) {
    EXPECT_EQ(TimestampFromFileName(name), std::nullopt) << name;
  }
}

TEST(BackupFileName, VersionNumbersAreNotTimestamps) {
  ScopedTimeZone zone(kUtc);
  for (const char* name : {"caloria-v2.1.sql.gz", "caloria-v2.10.3.sql.gz", "caloria-1.0.0.db",
                           "caloria-v2025.07.24.sql.gz", "postgresql-16.4-caloria.sql.gz"}) {
    EXPECT_EQ(TimestampFromFileName(name), std::nullopt) << name;
  }
}

TEST(BackupFileName, VeryLongNamesAreHandled) {
  ScopedTimeZone zone(kUtc);
  // NAME_MAX is 255; much longer strings must not crash the matcher either.
  const std::string padding(200, 'a');
  EXPECT_EQ(TimestampFromFileName(padding + "_20250724_203033.sql.gz"), kSeedGzipUtc);
  EXPECT_EQ(TimestampFromFileName("caloria_20250724_203033_" + padding), kSeedGzipUtc);
  EXPECT_EQ(TimestampFromFileName(std::string(100000, 'x')), std::nullopt);
  EXPECT_EQ(TimestampFromFileName(std::string(100000, '7')), std::nullopt);
  EXPECT_EQ(TimestampFromFileName(std::string(100000, 'x') + "_20250724_203033"), kSeedGzipUtc);
  std::string many;
  for (int i = 0; i < 2000; ++i) many += "_20240101_000000";
  many += "_20250724_203033";
  EXPECT_EQ(TimestampFromFileName(many), kSeedGzipUtc);
}

TEST(BackupFileName, TheSameNameMovesWithTheTimeZone) {
  std::optional<std::time_t> in_utc;
  std::optional<std::time_t> in_berlin;
  {
    ScopedTimeZone zone(kUtc);
    in_utc = TimestampFromFileName("caloria_20250724_203033.sql.gz");
  }
  {
    ScopedTimeZone zone(kBerlin);
    in_berlin = TimestampFromFileName("caloria_20250724_203033.sql.gz");
  }
  ASSERT_TRUE(in_utc && in_berlin);
  EXPECT_EQ(*in_utc - *in_berlin, 2 * 3600);
}

}  // namespace
}  // namespace caloria
