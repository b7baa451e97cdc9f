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

// ------------------------------------------------------------- the scanner --

TEST(SqlalchemyUrl, ScannerBacksOffLikeSqlalchemysPattern) {
  // Without ':' the user name runs to the last '@' before the host.
  EXPECT_EQ(Parse("postgresql://a@b@c/d").username, "a@b");
  // A ':' with no '@' after it is no password: the user name backs off to its last '@'.
  const SqlalchemyUrl no_password = Parse("postgresql://a@h:5432");
  EXPECT_EQ(no_password.username, "a");
  EXPECT_EQ(no_password.host, "h");
  EXPECT_EQ(no_password.port, 5432);
  // An IPv6 literal ends at the last ']' before '/' or '?'.
  EXPECT_EQ(Parse("postgresql://[::1]]/d").host, "::1]");
  // "[]" is no IPv6 literal: the brackets are read as a host name.
  EXPECT_EQ(Parse("postgresql://[]/d").host, "[]");
  // Python's "." stops at a newline: the rest of the query is ignored.
  EXPECT_EQ(Parse("postgresql://h/d?a=1\nb=2").query.size(), 1u);
  // The database runs over newlines up to the first '?'.
  EXPECT_EQ(Parse("postgresql://h/d\ne?a=1").database, "d\ne");
}

TEST(SqlalchemyUrl, LongRunsAreScannedInOnePass) {
  // Each part a few thousand characters long: std::regex recursed once per
  // character here; the scanner only counts.
  EXPECT_EQ(Parse("postgresql://u:" + std::string(4000, 'p') + "@h/d").password.Reveal().size(),
            4000u);
  EXPECT_EQ(Parse("postgresql://" + std::string(4000, 'h')).host.size(), 4000u);
  EXPECT_EQ(Parse("postgresql://h/" + std::string(4000, '@')).database.size(), 4000u);
  EXPECT_NE(ErrorFor("postgresql://h:" + std::string(4000, '1')), "");
}

// ----------------------------------------------------------- secret options --

TEST(SqlalchemyUrl, SecretQueryOptionsAreRedacted) {
  const SqlalchemyUrl url = Parse(
      "postgresql://h/d?password=Zebra42&sslpassword=Zebra43&passfile=/srv/pgpass&sslkey=/k.pem"
      "&ApiKey=k&client_SECRET=s&sslmode=require");
  EXPECT_EQ(url.Redacted(),
            "postgresql://h/d?ApiKey=***&client_SECRET=***&passfile=***&password=***"
            "&sslkey=***&sslmode=require&sslpassword=***");
  EXPECT_EQ(url.query.find("password")->second, "Zebra42");  // libpq still gets it
}

TEST(SqlalchemyUrl, SecretQueryOptionNamesSayPassSecretOrKey) {
  for (const char* name : {"password", "sslpassword", "passfile", "PassWord", "sslkey", "api_key",
                           "secret", "client_secret"}) {
    EXPECT_TRUE(IsSecretQueryOption(name)) << name;
  }
  for (const char* name : {"sslmode", "keepalives", "options", "host", "application_name", ""}) {
    EXPECT_FALSE(IsSecretQueryOption(name)) << name;
  }
}

TEST(SqlalchemyUrl, ScrubRemovesSecretQueryOptionValuesInEveryForm) {
  const SqlalchemyUrl url = Parse("postgresql://h/d?sslpassword=Zebra%2042%2F&sslmode=verify-full");
  EXPECT_EQ(url.Scrub("bad sslpassword 'Zebra 42/' and Zebra+42%2F"),
            "bad sslpassword '***' and ***");
  EXPECT_EQ(url.Scrub("invalid sslmode value: \"verify-full\""),
            "invalid sslmode value: \"verify-full\"");
}

// ------------------------------------------------------- an unencoded '@' --

TEST(SqlalchemyUrl, UnencodedAtInThePasswordIsAStrayAtInTheHost) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:S3cr@tPa55@127.0.0.1:1/caloria");
  EXPECT_EQ(url.stray_at, StrayAt::kHost);
  EXPECT_EQ(url.host, "tPa55@127.0.0.1");  // what SQLAlchemy, and so the app, connects to
  EXPECT_EQ(url.Redacted(), "postgresql://caloria:***@***:1/caloria");
}

TEST(SqlalchemyUrl, UnencodedAtAndSlashInThePasswordIsAStrayAtInTheDatabase) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:S3cr@tPa55/x@db.internal/caloria");
  EXPECT_EQ(url.stray_at, StrayAt::kDatabase);
  EXPECT_EQ(url.host, "tPa55");
  EXPECT_EQ(url.database, "x@db.internal/caloria");
  // Everything between :// and the last '@' is hidden; the user name is the user's.
  EXPECT_EQ(url.Redacted(), "postgresql://caloria:***@***/***");
}

TEST(SqlalchemyUrl, UnencodedAtAndQuestionMarkInThePasswordIsAStrayAtInTheQuery) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:S3cr@tPa55?x@db:5432/caloria");
  EXPECT_EQ(url.stray_at, StrayAt::kQuery);
  EXPECT_EQ(url.host, "tPa55");
  EXPECT_EQ(url.Redacted(), "postgresql://caloria:***@***");
}

TEST(SqlalchemyUrl, PartsAfterTheLastAtAreShown) {
  const SqlalchemyUrl url = Parse("postgresql://u:S3cr@tPa55:5432/x@db/caloria?sslmode=require");
  EXPECT_EQ(url.stray_at, StrayAt::kDatabase);
  EXPECT_EQ(url.Redacted(), "postgresql://u:***@***:***/***?sslmode=require");
  const SqlalchemyUrl host = Parse("postgresql://u:S3cr@tPa55@db:5433/caloria?sslmode=require");
  EXPECT_EQ(host.Redacted(), "postgresql://u:***@***:5433/caloria?sslmode=require");
}

TEST(SqlalchemyUrl, AUserNameHoldingAnAtIsHiddenWithTheRest) {
  // No ':': SQLAlchemy ends the user name at the last '@' of its run, here
  // inside the password.
  const SqlalchemyUrl url = Parse("postgresql://caloria@S3cr@tPa55/x@db/caloria");
  EXPECT_EQ(url.username, "caloria@S3cr");
  EXPECT_EQ(url.stray_at, StrayAt::kDatabase);
  EXPECT_EQ(url.Redacted(), "postgresql://***@***/***");
}

TEST(SqlalchemyUrl, AnAtInAQueryValueOrAnEncodedAtIsNoStrayAt) {
  for (const char* text :
       {"postgresql://caloria:pw@db/caloria?application_name=me@web1",
        "postgresql://caloria:S3cr%40tPa55@db/caloria", "postgresql://me@corp@db/caloria",
        "postgresql://db/caloria?x=a@b", "postgresql://caloria:S3cr@tPa55"}) {
    const SqlalchemyUrl url = Parse(text);
    EXPECT_EQ(url.stray_at, StrayAt::kNone) << text;
  }
  EXPECT_EQ(Parse("postgresql://caloria:pw@db/caloria?application_name=me@web1").Redacted(),
            "postgresql://caloria:***@db/caloria?application_name=me%40web1");
}

TEST(SqlalchemyUrl, ScrubRemovesEveryPieceOfTheUserInfo) {
  const std::string password = "S3cr@tPa55/x:y%z";
  const SqlalchemyUrl url = Parse("postgresql://caloria:" + password + "@127.0.0.1:1/caloria");
  ASSERT_EQ(url.stray_at, StrayAt::kDatabase);
  // libpq quotes the host and the database it was given, both pieces.
  const std::string scrubbed = url.Scrub(
      "could not translate host name \"tPa55\" to address; database \"x:y%z@127.0.0.1:1/"
      "caloria\"; S3cr%40tPa55%2Fx%3Ay%25z; S3cr@tPa55/x:y%z");
  for (std::size_t i = 0; i + 4 <= password.size(); ++i) {
    EXPECT_EQ(scrubbed.find(password.substr(i, 4)), std::string::npos) << scrubbed;
  }
  EXPECT_EQ(scrubbed.find("S3cr%40"), std::string::npos) << scrubbed;
  EXPECT_NE(scrubbed.find("127.0.0.1:1/caloria"), std::string::npos) << scrubbed;
  // The user name is the user's, and names the role in libpq's errors.
  EXPECT_EQ(url.Scrub("password authentication failed for user \"caloria\""),
            "password authentication failed for user \"caloria\"");
}

TEST(SqlalchemyUrl, ScrubRemovesThePasswordAsWrittenDecodedAndEncoded) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:Tr0ub%40dor%2F@db/caloria");
  EXPECT_EQ(url.Scrub("a Tr0ub@dor/ b Tr0ub%40dor%2F c tr0ub%40DOR%2f d"), "a *** b *** c *** d");
  EXPECT_EQ(url.Scrub("connection to server at \"db\" failed"),
            "connection to server at \"db\" failed");
  // Under four characters a password is not scrubbed: it would garble every message.
  EXPECT_EQ(Parse("postgresql://u:pw@db/d").Scrub("pw pw"), "pw pw");
}

TEST(SqlalchemyUrl, ErrorsNeverHoldAPieceOfAPasswordSplitByAnAt) {
  for (const char* text :
       {"postgresql://caloria:S3cr@tPa55@127.0.0.1:abc/caloria",
        "postgresql://caloria:S3cr@tPa55:99999/x@h/d", "sqlite://caloria:S3cr@tPa55@h/x.db",
        "mysql://caloria:S3cr@tPa55@h/d"}) {
    const std::string error = ErrorFor(text);
    ASSERT_NE(error, "") << text;
    for (const char* piece : {"S3cr", "tPa5", "Pa55"}) {
      EXPECT_EQ(error.find(piece), std::string::npos) << text << ": " << error;
    }
  }
}

TEST(SqlalchemyUrl, DatabaseTypeNamesMatchTheLabelValues) {
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kPostgresql), "postgresql");
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kSqlite), "sqlite");
}

}  // namespace
}  // namespace caloria
