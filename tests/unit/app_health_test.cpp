#include "collectors/app_probe/app_health.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace caloria {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// The problems as one string, for EXPECT messages and substring checks.
std::string Problems(const AppHealth& health) {
  std::string all;
  for (const auto& problem : health.problems) all += problem + "\n";
  return all;
}

AppHealth Parsed(const std::string& body) {
  Result<AppHealth> health = ParseAppHealth(body);
  EXPECT_TRUE(health.ok()) << body << ": " << (health ? "" : health.error());
  return health ? *health : AppHealth{};
}

constexpr const char* kSeed = R"({"database": "POSTGRESQL", "status": "healthy", )"
                              R"("timestamp": "2025-07-24T20:28:53.144251", "user_count": 3})";

TEST(ParseAppHealth, TheSeedsAnswerIsReadFieldByField) {
  const AppHealth health = Parsed(kSeed);
  EXPECT_EQ(health.database, "POSTGRESQL");
  EXPECT_EQ(health.database_type, DatabaseType::kPostgresql);
  EXPECT_EQ(health.type_label, "postgresql");
  EXPECT_EQ(health.status, "healthy");
  EXPECT_EQ(health.timestamp, "2025-07-24T20:28:53.144251");
  EXPECT_EQ(health.user_count, 3.0);
  EXPECT_TRUE(health.problems.empty()) << Problems(health);
}

TEST(ParseAppHealth, DatabaseTypesAreReadInAnyCase) {
  const std::vector<std::pair<std::string, DatabaseType>> cases = {
      {"POSTGRESQL", DatabaseType::kPostgresql}, {"postgresql", DatabaseType::kPostgresql},
      {"PostgreSQL", DatabaseType::kPostgresql}, {"SQLITE", DatabaseType::kSqlite},
      {"sqlite", DatabaseType::kSqlite},         {"SQLite", DatabaseType::kSqlite}};
  for (const auto& [name, type] : cases) {
    SCOPED_TRACE(name);
    const AppHealth health =
        Parsed(R"({"database": ")" + name + R"(", "status": "healthy", "user_count": 0})");
    EXPECT_EQ(health.database, name);
    EXPECT_EQ(health.database_type, type);
    EXPECT_EQ(health.type_label, DatabaseTypeName(type));
    EXPECT_TRUE(health.problems.empty()) << Problems(health);
  }
}

TEST(ParseAppHealth, AnUnknownDatabaseTypeIsReportedAsSuch) {
  const AppHealth health =
      Parsed(R"({"database": "MySQL 8", "status": "healthy", "user_count": 3})");
  EXPECT_EQ(health.database, "MySQL 8");
  EXPECT_EQ(health.database_type, std::nullopt);
  EXPECT_EQ(health.type_label, "mysql_8");
  ASSERT_EQ(health.problems.size(), 1u);
  EXPECT_TRUE(Contains(health.problems[0], "unknown database type 'MySQL 8'")) << Problems(health);
}

TEST(ParseAppHealth, NearMissesOfTheKnownTypesAreUnknown) {
  for (const std::string name : {"postgres", "POSTGRESQL ", "sqlite3", "pg"}) {
    SCOPED_TRACE(name);
    const AppHealth health = Parsed(R"({"database": ")" + name + R"("})");
    EXPECT_EQ(health.database_type, std::nullopt);
    EXPECT_TRUE(Contains(Problems(health), "unknown database type")) << Problems(health);
  }
}

TEST(ParseAppHealth, AnUnknownTypesLabelKeepsOnlySafeCharacters) {
  const AppHealth health =
      Parsed(R"({"database": "Evil\"} label{x=\"1\n\u00e9)" + std::string(80, 'A') + R"("})");
  ASSERT_TRUE(health.type_label.has_value());
  EXPECT_LE(health.type_label->size(), 32u);
  for (const char c : *health.type_label) {
    EXPECT_TRUE((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                c == '+' || c == '-')
        << *health.type_label;
  }
  // What the page shows is printable ASCII and bounded too.
  ASSERT_TRUE(health.database.has_value());
  EXPECT_LE(health.database->size(), 67u);
  for (const char c : *health.database) EXPECT_TRUE(c >= 0x20 && c <= 0x7e) << *health.database;
}

TEST(ParseAppHealth, MissingFieldsAreToleratedAndListed) {
  const AppHealth health = Parsed("{}");
  EXPECT_EQ(health.database, std::nullopt);
  EXPECT_EQ(health.database_type, std::nullopt);
  EXPECT_EQ(health.type_label, std::nullopt);
  EXPECT_EQ(health.status, std::nullopt);
  EXPECT_EQ(health.timestamp, std::nullopt);
  EXPECT_EQ(health.user_count, std::nullopt);
  const std::string problems = Problems(health);
  EXPECT_TRUE(Contains(problems, "no database field")) << problems;
  EXPECT_TRUE(Contains(problems, "no status field")) << problems;
  EXPECT_TRUE(Contains(problems, "no user_count field")) << problems;
  EXPECT_EQ(health.problems.size(), 3u);
}

TEST(ParseAppHealth, AMissingTimestampIsNoProblem) {
  const AppHealth health =
      Parsed(R"({"database": "SQLITE", "status": "healthy", "user_count": 1})");
  EXPECT_EQ(health.timestamp, std::nullopt);
  EXPECT_TRUE(health.problems.empty()) << Problems(health);
}

TEST(ParseAppHealth, FieldsOfTheWrongTypeAreProblemsNotValues) {
  const AppHealth health =
      Parsed(R"({"database": 5, "status": true, "timestamp": 1721852933, "user_count": "three"})");
  EXPECT_EQ(health.database, std::nullopt);
  EXPECT_EQ(health.type_label, std::nullopt);
  EXPECT_EQ(health.status, std::nullopt);
  EXPECT_EQ(health.timestamp, std::nullopt);
  EXPECT_EQ(health.user_count, std::nullopt);
  const std::string problems = Problems(health);
  EXPECT_TRUE(Contains(problems, "database as 5")) << problems;
  EXPECT_TRUE(Contains(problems, "status as true")) << problems;
  EXPECT_TRUE(Contains(problems, R"(user_count as "three")")) << problems;
}

TEST(ParseAppHealth, AnEmptyDatabaseNamesNoType) {
  const AppHealth health = Parsed(R"({"database": "", "status": "healthy", "user_count": 1})");
  EXPECT_EQ(health.database, std::nullopt);
  EXPECT_EQ(health.type_label, std::nullopt);
  EXPECT_TRUE(Contains(Problems(health), "database as")) << Problems(health);
}

TEST(ParseAppHealth, OnlyWholeNonNegativeNumbersAreUserCounts) {
  for (const std::string value : {"-1", "2.5", "null", "true", "[3]", "{}", "\"3\"", "1e400"}) {
    SCOPED_TRACE(value);
    Result<AppHealth> health = ParseAppHealth(R"({"user_count": )" + value + "}");
    if (!health) continue;  // a number JSON cannot hold is garbage, which is also fine
    EXPECT_EQ(health->user_count, std::nullopt);
    EXPECT_TRUE(Contains(Problems(*health), "user_count as")) << Problems(*health);
  }
  for (const auto& [value, count] : std::vector<std::pair<std::string, double>>{
           {"0", 0}, {"3", 3}, {"3.0", 3}, {"123456789", 123456789}}) {
    SCOPED_TRACE(value);
    EXPECT_EQ(Parsed(R"({"user_count": )" + value + "}").user_count, count);
  }
}

TEST(ParseAppHealth, StatusIsLowerCasedAndAnyValueKept) {
  EXPECT_EQ(Parsed(R"({"status": "HEALTHY"})").status, "healthy");
  EXPECT_EQ(Parsed(R"({"status": "unhealthy"})").status, "unhealthy");
  EXPECT_EQ(Parsed(R"({"status": "on fire"})").status, "on fire");
}

TEST(ParseAppHealth, ExtraFieldsAreIgnored) {
  const AppHealth health =
      Parsed(R"({"database": "SQLITE", "status": "healthy", "user_count": 3, "error": null, )"
             R"("details": {"pool": [1, 2, 3]}})");
  EXPECT_EQ(health.database_type, DatabaseType::kSqlite);
  EXPECT_TRUE(health.problems.empty()) << Problems(health);
}

TEST(ParseAppHealth, ABodyThatIsNotJsonIsAnErrorThatDoesNotQuoteIt) {
  for (const std::string body :
       {"<!DOCTYPE html><html>secret-in-the-page</html>", "OK",
        "{\"database\": ", "{\"database\": \"SQLITE\"} trailing secret-in-the-page", "\xff\xfe{}",
        "{\"database\": \"\xc3\x28\"}", "{'database': 'SQLITE'}", "NaN"}) {
    SCOPED_TRACE(body);
    Result<AppHealth> health = ParseAppHealth(body);
    ASSERT_FALSE(health.ok());
    EXPECT_TRUE(Contains(health.error(), "not JSON")) << health.error();
    EXPECT_FALSE(Contains(health.error(), "secret-in-the-page")) << health.error();
    EXPECT_EQ(health.error().find('\n'), std::string::npos) << health.error();
  }
}

TEST(ParseAppHealth, AnEmptyBodyIsAnError) {
  Result<AppHealth> health = ParseAppHealth("");
  ASSERT_FALSE(health.ok());
  EXPECT_TRUE(Contains(health.error(), "empty")) << health.error();
}

TEST(ParseAppHealth, JsonThatIsNotAnObjectIsAnError) {
  for (const std::string body :
       {"[]", "[{\"database\": \"SQLITE\"}]", "\"POSTGRESQL\"", "3", "true", "null"}) {
    SCOPED_TRACE(body);
    Result<AppHealth> health = ParseAppHealth(body);
    ASSERT_FALSE(health.ok());
    EXPECT_TRUE(Contains(health.error(), "not a JSON object")) << health.error();
    EXPECT_TRUE(Contains(health.error(), "--app.health-url")) << health.error();
  }
}

TEST(ParseAppHealth, DeepNestingIsParsedWithoutExhaustingTheStack) {
  // 64 KiB of nesting: as much as the fetch lets through.
  const std::string deep = std::string(32 * 1024, '[') + std::string(32 * 1024, ']');
  Result<AppHealth> health = ParseAppHealth(deep);
  ASSERT_FALSE(health.ok());
  EXPECT_TRUE(Contains(health.error(), "not a JSON object")) << health.error();
  const std::string nested_field =
      R"({"database": "SQLITE", "x": )" + std::string(30000, '[') + std::string(30000, ']') + "}";
  EXPECT_EQ(Parsed(nested_field).database_type, DatabaseType::kSqlite);
}

TEST(ParseAppHealth, TextsFromTheAppAreShortAndPrintable) {
  const std::string long_stamp(500, '9');
  const AppHealth health = Parsed(R"({"timestamp": ")" + long_stamp + R"(", "status": "ok\tnow"})");
  ASSERT_TRUE(health.timestamp.has_value());
  EXPECT_LT(health.timestamp->size(), 100u);
  EXPECT_EQ(health.status, "ok?now");
}

}  // namespace
}  // namespace caloria
