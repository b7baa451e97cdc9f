#include "config/sqlalchemy_url.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace caloria {
namespace {

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

TEST(SqlalchemyUrl, PostgresqlUrlIsSplitIntoItsParts) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:pw@db.internal:5433/meals");
  EXPECT_EQ(url.type, DatabaseType::kPostgresql);
  EXPECT_EQ(url.dialect, "postgresql");
  EXPECT_EQ(url.driver, "");
  EXPECT_EQ(url.username, "caloria");
  EXPECT_EQ(url.password.Reveal(), "pw");
  EXPECT_EQ(url.host, "db.internal");
  EXPECT_EQ(url.port, 5433);
  EXPECT_EQ(url.database, "meals");
  EXPECT_TRUE(url.query.empty());
}

TEST(SqlalchemyUrl, DriverAfterPlusIsKeptApart) {
  const SqlalchemyUrl url = Parse("postgresql+psycopg2://u:p@h/d");
  EXPECT_EQ(url.type, DatabaseType::kPostgresql);
  EXPECT_EQ(url.dialect, "postgresql");
  EXPECT_EQ(url.driver, "psycopg2");
}

TEST(SqlalchemyUrl, PostgresSchemeIsAcceptedAsPostgresql) {
  // SQLAlchemy 1.4+ refuses it; the config layer reports that as a problem.
  const SqlalchemyUrl url = Parse("postgres://u:p@h/d");
  EXPECT_EQ(url.type, DatabaseType::kPostgresql);
  EXPECT_EQ(url.dialect, "postgres");
}

TEST(SqlalchemyUrl, DialectIsComparedAndStoredLowerCase) {
  const SqlalchemyUrl url = Parse("POSTGRESQL+Psycopg2://h/d");
  EXPECT_EQ(url.type, DatabaseType::kPostgresql);
  EXPECT_EQ(url.dialect, "postgresql");
  EXPECT_EQ(url.driver, "Psycopg2");
  EXPECT_EQ(Parse("SQLite:///x.db").type, DatabaseType::kSqlite);
}

TEST(SqlalchemyUrl, PercentEncodedPasswordIsDecoded) {
  const SqlalchemyUrl url = Parse("postgresql://u:p%40ss%3Aw%2Frd%25@h/d");
  EXPECT_EQ(url.password.Reveal(), "p@ss:w/rd%");
  EXPECT_EQ(url.host, "h");
}

TEST(SqlalchemyUrl, PercentEncodedUsernameIsDecoded) {
  const SqlalchemyUrl url = Parse("postgresql://me%40corp%3Aadmin%2Fx@h/d");
  EXPECT_EQ(url.username, "me@corp:admin/x");
  EXPECT_TRUE(url.password.empty());
}

TEST(SqlalchemyUrl, PlusInPasswordStaysAPlus) {
  // unquote, not unquote_plus: only the query turns '+' into a space.
  EXPECT_EQ(Parse("postgresql://u:a+b@h/d").password.Reveal(), "a+b");
}

TEST(SqlalchemyUrl, MalformedPercentEscapeIsKeptLiterally) {
  EXPECT_EQ(Parse("postgresql://u:100%zz%4@h/d").password.Reveal(), "100%zz%4");
}

TEST(SqlalchemyUrl, RawAtInPasswordEndsThePasswordAtTheFirstAt) {
  // SQLAlchemy's regex: the password is [^@]*, and the host may hold an '@'.
  const SqlalchemyUrl url = Parse("postgresql://u:p@ss@db/d");
  EXPECT_EQ(url.username, "u");
  EXPECT_EQ(url.password.Reveal(), "p");
  EXPECT_EQ(url.host, "ss@db");
  EXPECT_EQ(url.database, "d");
}

TEST(SqlalchemyUrl, RawAtInUsernameWithoutPasswordSplitsAtTheLastAt) {
  const SqlalchemyUrl url = Parse("postgresql://me@corp@db/d");
  EXPECT_EQ(url.username, "me@corp");
  EXPECT_EQ(url.host, "db");
}

TEST(SqlalchemyUrl, EmptyPasswordIsEmpty) {
  const SqlalchemyUrl url = Parse("postgresql://u:@h/d");
  EXPECT_EQ(url.username, "u");
  EXPECT_TRUE(url.password.empty());
  EXPECT_EQ(url.host, "h");
}

TEST(SqlalchemyUrl, UserWithoutPasswordHasNoPassword) {
  const SqlalchemyUrl url = Parse("postgresql://u@h/d");
  EXPECT_EQ(url.username, "u");
  EXPECT_TRUE(url.password.empty());
}

TEST(SqlalchemyUrl, MissingHostLeavesTheUnixSocketDefault) {
  const SqlalchemyUrl url = Parse("postgresql:///meals");
  EXPECT_EQ(url.host, "");
  EXPECT_FALSE(url.port.has_value());
  EXPECT_EQ(url.database, "meals");
}

TEST(SqlalchemyUrl, MissingDatabaseIsAllowedForPostgresql) {
  EXPECT_EQ(Parse("postgresql://h").database, "");
  EXPECT_EQ(Parse("postgresql://h:5432/").database, "");
  const SqlalchemyUrl bare = Parse("postgresql://");
  EXPECT_EQ(bare.type, DatabaseType::kPostgresql);
  EXPECT_EQ(bare.host, "");
}

TEST(SqlalchemyUrl, Ipv6HostLosesItsBrackets) {
  const SqlalchemyUrl url = Parse("postgresql://u:p@[2001:db8::1]:6432/d");
  EXPECT_EQ(url.host, "2001:db8::1");
  EXPECT_EQ(url.port, 6432);
}

TEST(SqlalchemyUrl, HostAndDatabaseArePercentDecoded) {
  const SqlalchemyUrl url = Parse("postgresql://%2Fvar%2Frun%2Fpostgresql/my%20db");
  EXPECT_EQ(url.host, "/var/run/postgresql");
  EXPECT_EQ(url.database, "my db");
}

TEST(SqlalchemyUrl, PortIsReadLikePythonInt) {
  EXPECT_EQ(Parse("postgresql://h: 5432/d").port, 5432);
  EXPECT_EQ(Parse("postgresql://h:+5432/d").port, 5432);
  EXPECT_EQ(Parse("postgresql://h:5_432/d").port, 5432);
  EXPECT_EQ(Parse("postgresql://h:05432/d").port, 5432);
}

TEST(SqlalchemyUrl, NonNumericPortIsRejectedByName) {
  const std::string error = ErrorFor("postgresql://u:p@h:abc/d");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port 'abc' is not a number", error);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "postgresql://USER:PASSWORD@HOST:PORT/DBNAME", error);
  EXPECT_NE(ErrorFor("postgresql://u:p@h:5_/d"), "");
  EXPECT_NE(ErrorFor("postgresql://u:p@h:5__4/d"), "");
}

TEST(SqlalchemyUrl, EmptyPortIsRejected) {
  // int("") fails in SQLAlchemy too.
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port '' is not a number",
                      ErrorFor("postgresql://u@h:/d"));
}

TEST(SqlalchemyUrl, PortOutOfRangeIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port '65536' is out of range 1-65535",
                      ErrorFor("postgresql://u@h:65536/d"));
  EXPECT_NE(ErrorFor("postgresql://u@h:0/d"), "");
  EXPECT_NE(ErrorFor("postgresql://u@h:-5432/d"), "");
  EXPECT_NE(ErrorFor("postgresql://u@h:99999999999999999999/d"), "");
  EXPECT_EQ(Parse("postgresql://h:65535/d").port, 65535);
}

TEST(SqlalchemyUrl, QueryKeepsRepeatedKeysInOrder) {
  const SqlalchemyUrl url =
      Parse("postgresql://h/d?sslmode=require&options=-c%20a%3D1&options=-c+b%3D2");
  const Query expected = {{"sslmode", "require"}, {"options", "-c a=1"}, {"options", "-c b=2"}};
  EXPECT_EQ(url.query, expected);
  const auto [first, last] = url.query.equal_range("options");
  ASSERT_EQ(std::distance(first, last), 2);
  EXPECT_EQ(first->second, "-c a=1");
}

TEST(SqlalchemyUrl, QueryDecodesKeysAndValuesLikeParseQsl) {
  const SqlalchemyUrl url = Parse("postgresql://h/d?a%26b=c+d%2Be&x=1=2");
  const Query expected = {{"a&b", "c d+e"}, {"x", "1=2"}};
  EXPECT_EQ(url.query, expected);
}

TEST(SqlalchemyUrl, QueryDropsBlankFieldsLikeParseQsl) {
  const SqlalchemyUrl url = Parse("postgresql://h/d?empty=&flag&&=x&k=v");
  const Query expected = {{"", "x"}, {"k", "v"}};
  EXPECT_EQ(url.query, expected);
}

TEST(SqlalchemyUrl, SqliteWithoutPathIsInMemory) {
  for (const std::string text : {"sqlite://", "sqlite:///"}) {
    const SqlalchemyUrl url = Parse(text);
    EXPECT_EQ(url.type, DatabaseType::kSqlite) << text;
    EXPECT_EQ(url.database, "") << text;
    EXPECT_TRUE(url.IsSqliteMemory()) << text;
  }
}

TEST(SqlalchemyUrl, SqliteMemoryKeywordIsInMemory) {
  const SqlalchemyUrl url = Parse("sqlite:///:memory:");
  EXPECT_EQ(url.database, ":memory:");
  EXPECT_TRUE(url.IsSqliteMemory());
}

TEST(SqlalchemyUrl, SqliteThreeSlashesGiveARelativePath) {
  const SqlalchemyUrl url = Parse("sqlite:///instance/caloria.db");
  EXPECT_EQ(url.database, "instance/caloria.db");
  EXPECT_FALSE(url.IsSqliteMemory());
}

TEST(SqlalchemyUrl, SqliteFourSlashesGiveAnAbsolutePath) {
  const SqlalchemyUrl url = Parse("sqlite+pysqlite:////srv/caloria/app.db");
  EXPECT_EQ(url.type, DatabaseType::kSqlite);
  EXPECT_EQ(url.driver, "pysqlite");
  EXPECT_EQ(url.database, "/srv/caloria/app.db");
}

TEST(SqlalchemyUrl, SqliteWithHostIsRejectedWithTheThreeSlashForm) {
  const std::string error = ErrorFor("sqlite://data/app.db");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "sqlite URLs take no host", error);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "write sqlite:///data/app.db", error);
}

TEST(SqlalchemyUrl, SqliteWithCredentialsIsRejectedWithoutRepeatingThem) {
  for (const std::string text : {"sqlite://alice:Zebra42@host/x.db", "sqlite://alice:Zebra42"}) {
    const std::string error = ErrorFor(text);
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "sqlite:///RELATIVE/PATH.db", error);
    EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra42", error);
  }
}

TEST(SqlalchemyUrl, SqliteWithEmptyUserInfoIsAcceptedLikePysqlite) {
  // pysqlite tests the parts for truthiness, so an empty user passes.
  EXPECT_EQ(Parse("sqlite://@/x.db").database, "x.db");
}

TEST(SqlalchemyUrl, UnsupportedDatabaseIsRejected) {
  for (const std::string text : {"mysql://x/y", "mysql+pymysql://u:p@h/d", "+psycopg2://h/d"}) {
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "use a postgresql:// or sqlite:// URL",
                        ErrorFor(text));
  }
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "'mysql'", ErrorFor("mysql://x/y"));
}

TEST(SqlalchemyUrl, MalformedDriverIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "driver", ErrorFor("postgresql+://h/d"));
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "driver", ErrorFor("postgresql+a+b://h/d"));
}

TEST(SqlalchemyUrl, TextWithoutSchemeIsRejected) {
  for (const std::string text : {"not a url", "://x", "postgresql:/h/d", "postgresql", "db.sqlite",
                                 "postgresql-psycopg2://h/d"}) {
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "not a valid SQLAlchemy URL", ErrorFor(text));
  }
}

TEST(SqlalchemyUrl, EmptyUrlIsRejected) {
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "DATABASE_URL is empty", ErrorFor(""));
}

TEST(SqlalchemyUrl, SurroundingWhitespaceIsRejectedWithAFix) {
  for (const std::string text :
       {" postgresql://h/d", "postgresql://h/d ", "sqlite:///x.db\n", "\tsqlite://", "   "}) {
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "remove the surrounding spaces", ErrorFor(text));
  }
}

TEST(SqlalchemyUrl, OverlongUrlIsRejected) {
  // std::regex recurses per character; tens of kilobytes overflow the stack.
  EXPECT_EQ(Parse("postgresql://h/d?x=" + std::string(4000, 'a')).query.size(), 1u);
  EXPECT_NE(ErrorFor("postgresql://h/d?x=" + std::string(100000, 'a')), "");
}

TEST(SqlalchemyUrl, EveryErrorIsOneLineAndSaysHowToFixIt) {
  const std::vector<std::string> bad = {
      "",         "not a url",         "mysql://x/y",         "postgresql://h:a\nb/d",
      " sqlite:", "sqlite://h/x\n.db", "postgresql+://h",     "postgresql://u:p@h:99999/d",
      "://x",     "sqlite://u:p@h/x",  "postgresql://u@h:/d", "sqlite://" + std::string(99, 'h')};
  for (const std::string& text : bad) {
    const std::string error = ErrorFor(text);
    ASSERT_NE(error, "") << text;
    EXPECT_EQ(error.find('\n'), std::string::npos) << error;
    EXPECT_EQ(error.find('\r'), std::string::npos) << error;
    const bool has_fix =
        error.find("write") != std::string::npos || error.find("use a") != std::string::npos ||
        error.find("set it") != std::string::npos || error.find("remove") != std::string::npos;
    EXPECT_TRUE(has_fix) << error;
  }
}

TEST(SqlalchemyUrl, BadPortErrorNeverContainsThePassword) {
  // Encoded on purpose: neither the raw nor the decoded form may leak.
  const std::string error = ErrorFor("postgresql://alice:Tr0ub4dor%26Zebra@db.example:abc/meals");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "port 'abc' is not a number", error);
  EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Tr0ub4dor", error);
  EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra", error);
}

TEST(SqlalchemyUrl, PortIsNotQuotedWhenItMayBePartOfThePassword) {
  // A raw '@' in the password pushes its tail into host and port.
  const std::string spilled = ErrorFor("postgresql://alice:Tr0ub@dor:Zebra@db/meals");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "the port after the host is not a number", spilled);
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "@ is %40", spilled);
  EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra", spilled);
  EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "dor", spilled);
  // Without "@host" the password lands in the port; the user name may show.
  const std::string no_host = ErrorFor("postgresql://alice:Zebra");
  EXPECT_PRED_FORMAT2(testing::IsSubstring, "the port after 'alice:' is not a number", no_host);
  EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra", no_host);
}

TEST(SqlalchemyUrl, RedactedHidesThePassword) {
  const SqlalchemyUrl url = Parse("postgresql+psycopg2://user:s3cret@host:5432/db?sslmode=require");
  EXPECT_EQ(url.Redacted(), "postgresql+psycopg2://user:***@host:5432/db?sslmode=require");
}

TEST(SqlalchemyUrl, RedactedShowsNoPasswordWhenThereIsNone) {
  EXPECT_EQ(Parse("postgresql://user@host/db").Redacted(), "postgresql://user@host/db");
  EXPECT_EQ(Parse("postgresql:///db").Redacted(), "postgresql:///db");
  EXPECT_EQ(Parse("postgres://h").Redacted(), "postgres://h");
}

TEST(SqlalchemyUrl, RedactedQuotesWhatWouldBeMisread) {
  const SqlalchemyUrl url =
      Parse("postgresql://me%40corp:p%40ss@[::1]:5433/100%25%3F?b=x%26y&a=1+2&a=3");
  EXPECT_EQ(url.Redacted(), "postgresql://me%40corp:***@[::1]:5433/100%25%3F?a=1+2&a=3&b=x%26y");
}

TEST(SqlalchemyUrl, RedactedHidesAHostHoldingAPasswordTail) {
  const SqlalchemyUrl url = Parse("postgresql://u:Tr0ub@Zebra@db/d");
  EXPECT_EQ(url.Redacted(), "postgresql://u:***@***/d");
}

TEST(SqlalchemyUrl, RedactedRendersSqliteForms) {
  EXPECT_EQ(Parse("sqlite://").Redacted(), "sqlite://");
  EXPECT_EQ(Parse("sqlite:///:memory:").Redacted(), "sqlite:///:memory:");
  EXPECT_EQ(Parse("sqlite:///app.db").Redacted(), "sqlite:///app.db");
  EXPECT_EQ(Parse("sqlite:////srv/app.db").Redacted(), "sqlite:////srv/app.db");
}

TEST(SqlalchemyUrl, IsSqliteMemoryIsFalseForFilesAndPostgresql) {
  EXPECT_FALSE(Parse("sqlite:///app.db").IsSqliteMemory());
  EXPECT_FALSE(Parse("postgresql://h/d").IsSqliteMemory());
}

TEST(SqlalchemyUrl, DatabaseTypeNamesMatchTheLabelValues) {
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kPostgresql), "postgresql");
  EXPECT_EQ(DatabaseTypeName(DatabaseType::kSqlite), "sqlite");
}

}  // namespace
}  // namespace caloria
