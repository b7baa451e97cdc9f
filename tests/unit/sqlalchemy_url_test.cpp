#include "config/sqlalchemy_url.h"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using Json = nlohmann::json;
using Query = std::multimap<std::string, std::string>;

// The error ParseSqlalchemyUrl returns, or "" when the URL is accepted.
std::string ErrorFor(const std::string& url) {
  const Result<SqlalchemyUrl> parsed = ParseSqlalchemyUrl(url);
  return parsed ? "" : parsed.error();
}

// A URL that must parse; a failure names the error.
SqlalchemyUrl Parse(const std::string& url) {
  Result<SqlalchemyUrl> parsed = ParseSqlalchemyUrl(url);
  EXPECT_TRUE(parsed.ok()) << url << ": " << (parsed ? "" : parsed.error());
  return parsed ? *parsed : SqlalchemyUrl{};
}

// The table-shaped cases live in tests/cases/sqlalchemy_url.json, which
// tests/integration/test_backup_script_agrees.py runs through the backup
// script as well: the exporter and the script read every URL alike.
const Json& Cases() {
  static const Json cases = ::caloria::testing::LoadCases("sqlalchemy_url.json");
  return cases;
}

std::string CaseName(const Json& c) {
  return c.at("name").get<std::string>() + ": " + c.at("url").dump();
}

TEST(SqlalchemyUrl, AcceptedUrlsReadAsTheCasesSay) {
  const Json& accepted = Cases().at("accepted");
  ASSERT_GE(accepted.size(), 40u);
  for (const Json& c : accepted) {
    SCOPED_TRACE(CaseName(c));
    const SqlalchemyUrl url = Parse(c.at("url").get<std::string>());
    const Json& expect = c.at("expect");
    EXPECT_EQ(DatabaseTypeName(url.type), expect.at("type").get<std::string>());
    EXPECT_EQ(url.Redacted(), expect.at("redacted").get<std::string>());
    if (expect.contains("dialect")) {
      EXPECT_EQ(url.dialect, expect["dialect"].get<std::string>());
    }
    if (expect.contains("driver")) {
      EXPECT_EQ(url.driver, expect["driver"].get<std::string>());
    }
    if (expect.contains("username")) {
      EXPECT_EQ(url.username, expect["username"].get<std::string>());
    }
    if (expect.contains("password")) {
      EXPECT_EQ(url.password.Reveal(), expect["password"].get<std::string>());
    }
    if (expect.contains("host")) {
      EXPECT_EQ(url.host, expect["host"].get<std::string>());
    }
    if (expect.contains("port")) {
      if (expect["port"].is_null()) {
        EXPECT_FALSE(url.port.has_value());
      } else {
        EXPECT_EQ(url.port, expect["port"].get<int>());
      }
    }
    if (expect.contains("database")) {
      EXPECT_EQ(url.database, expect["database"].get<std::string>());
    }
    if (expect.contains("query")) {
      Query query;  // repeated keys keep their order, as in the URL
      for (const Json& pair : expect["query"]) {
        query.emplace(pair.at(0).get<std::string>(), pair.at(1).get<std::string>());
      }
      EXPECT_EQ(url.query, query);
    }
    if (expect.contains("sqlite_memory")) {
      EXPECT_EQ(url.IsSqliteMemory(), expect["sqlite_memory"].get<bool>());
    }
  }
}

TEST(SqlalchemyUrl, RejectedUrlsFailWithOneLineThatSaysHowToFixIt) {
  const Json& rejected = Cases().at("rejected");
  ASSERT_GE(rejected.size(), 30u);
  for (const Json& c : rejected) {
    SCOPED_TRACE(CaseName(c));
    const std::string error = ErrorFor(c.at("url").get<std::string>());
    ASSERT_NE(error, "");
    for (const Json& part : c.value("error_contains", Json::array())) {
      EXPECT_PRED_FORMAT2(::testing::IsSubstring, part.get<std::string>(), error);
    }
    for (const Json& part : c.value("error_excludes", Json::array())) {
      EXPECT_PRED_FORMAT2(::testing::IsNotSubstring, part.get<std::string>(), error);
    }
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_EQ(error.find('\r'), std::string::npos) << error;
    const bool has_fix =
        error.find("write") != std::string::npos || error.find("use a") != std::string::npos ||
        error.find("set it") != std::string::npos || error.find("remove") != std::string::npos;
    EXPECT_TRUE(has_fix) << error;
  }
}

TEST(SqlalchemyUrl, OverlongUrlIsRejected) {
  // std::regex recurses per character; tens of kilobytes overflow the stack.
  EXPECT_EQ(Parse("postgresql://h/d?x=" + std::string(4000, 'a')).query.size(), 1u);
  EXPECT_NE(ErrorFor("postgresql://h/d?x=" + std::string(100000, 'a')), "");
}

TEST(SqlalchemyUrl, DatabaseTypeNamesMatchTheLabelValues) {
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kPostgresql), "postgresql");
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kSqlite), "sqlite");
}

}  // namespace
}  // namespace caloria
