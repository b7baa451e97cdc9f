#include "collectors/database/libpq_params.h"

#include <gtest/gtest.h>
#include <libpq-fe.h>

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>

#include "collectors/database/postgres_connection.h"

namespace caloria {
namespace {

using Pairs = LibpqKeywordValues;

SqlalchemyUrl Parse(const std::string& text) {
  Result<SqlalchemyUrl> url = ParseSqlalchemyUrl(text);
  EXPECT_TRUE(url.ok()) << text << ": " << (url ? "" : url.error());
  return url ? *url : SqlalchemyUrl{};
}

// What libpq itself reads from a connection string: keyword -> value for
// every keyword the string sets; nullopt when libpq rejects the string.
std::optional<std::map<std::string, std::string>> LibpqReads(const std::string& conninfo) {
  char* error = nullptr;
  std::unique_ptr<PQconninfoOption, decltype(&PQconninfoFree)> options(
      PQconninfoParse(conninfo.c_str(), &error), &PQconninfoFree);
  if (!options) {
    PQfreemem(error);
    return std::nullopt;
  }
  std::map<std::string, std::string> set;
  for (const PQconninfoOption* option = options.get(); option->keyword; ++option) {
    if (option->val) set[option->keyword] = option->val;
  }
  return set;
}

TEST(LibpqParams, UrlPartsComeFirstThenDefaultsThenQueryOptions) {
  const SqlalchemyUrl url = Parse("postgresql://caloria:pw@db:5433/meals?sslmode=require");
  EXPECT_EQ(UrlLibpqParams(url, {{"application_name", "x"}}), (Pairs{{"host", "db"},
                                                                     {"port", "5433"},
                                                                     {"dbname", "meals"},
                                                                     {"user", "caloria"},
                                                                     {"password", "pw"},
                                                                     {"application_name", "x"},
                                                                     {"sslmode", "require"}}));
}

TEST(LibpqParams, AbsentPartsAreLeftToLibpqDefaults) {
  EXPECT_EQ(UrlLibpqParams(Parse("postgresql://"), {}), Pairs{});
  EXPECT_EQ(UrlLibpqParams(Parse("postgresql:///meals"), {}), (Pairs{{"dbname", "meals"}}));
}

TEST(LibpqParams, ExporterAddsItsNameAndReadOnlyBoundedSessions) {
  const SqlalchemyUrl url = Parse("postgresql://u@h/d?application_name=mine");
  EXPECT_EQ(ExporterLibpqParams(url, std::chrono::milliseconds(1500)),
            (Pairs{{"host", "h"},
                   {"dbname", "d"},
                   {"user", "u"},
                   {"application_name", "caloria_exporter"},
                   {"options", "-c default_transaction_read_only=on -c statement_timeout=1500"},
                   {"application_name", "mine"}}));
}

TEST(LibpqParams, QuoteConninfoValueEscapesBackslashAndQuote) {
  EXPECT_EQ(QuoteConninfoValue(""), "''");
  EXPECT_EQ(QuoteConninfoValue("plain"), "'plain'");
  EXPECT_EQ(QuoteConninfoValue("a b"), "'a b'");
  EXPECT_EQ(QuoteConninfoValue("it's"), R"('it\'s')");
  EXPECT_EQ(QuoteConninfoValue(R"(C:\dir)"), R"('C:\\dir')");
  EXPECT_EQ(QuoteConninfoValue(R"(\')"), R"('\\\'')");
}

TEST(LibpqParams, LibpqReadsBackEveryValueExactly) {
  const std::string awkward[] = {"",   "a b", "it's", R"(back\slash)", R"(\')", "x='y' z=w", "\t",
                                 "é€", "=",   "'",    R"(\\'')",       "a\nb"};
  for (const std::string& value : awkward) {
    const Result<PasswordlessConninfo> split =
        SplitPassword({{"dbname", value}, {"application_name", value}});
    ASSERT_TRUE(split.ok()) << split.error();
    const auto read = LibpqReads(split->conninfo);
    ASSERT_TRUE(read.has_value()) << split->conninfo;
    EXPECT_EQ(read->at("dbname"), value) << split->conninfo;
    EXPECT_EQ(read->at("application_name"), value) << split->conninfo;
    EXPECT_EQ(read->size(), 2u) << split->conninfo;
  }
}

TEST(LibpqParams, SplitPasswordKeepsThePasswordOffTheConnectionString) {
  const SqlalchemyUrl url =
      Parse("postgresql://caloria:S3cr3t%3AP%40ss%2Fw%25rd%21@127.0.0.1:5432/caloria");
  const Result<PasswordlessConninfo> split =
      SplitPassword(UrlLibpqParams(url, {{"application_name", "caloria-backup"}}));
  ASSERT_TRUE(split.ok()) << split.error();
  EXPECT_EQ(split->conninfo,
            "host='127.0.0.1' port='5432' dbname='caloria' user='caloria' "
            "application_name='caloria-backup'");
  EXPECT_EQ(split->password.Reveal(), "S3cr3t:P@ss/w%rd!");
  EXPECT_EQ(split->conninfo.find("S3cr3t"), std::string::npos);
}

TEST(LibpqParams, PasswordQueryOptionAlsoGoesToThePasswordAndWinsLikeInLibpq) {
  const SqlalchemyUrl url = Parse("postgresql://u:first@h/d?password=second&sslmode=require");
  const Result<PasswordlessConninfo> split = SplitPassword(UrlLibpqParams(url, {}));
  ASSERT_TRUE(split.ok()) << split.error();
  EXPECT_EQ(split->conninfo, "host='h' dbname='d' user='u' sslmode='require'");
  EXPECT_EQ(split->password.Reveal(), "second");
}

TEST(LibpqParams, NoPasswordLeavesItToPgpassOrTheEnvironment) {
  const Result<PasswordlessConninfo> split =
      SplitPassword(UrlLibpqParams(Parse("postgresql://u@h/d"), {}));
  ASSERT_TRUE(split.ok()) << split.error();
  EXPECT_TRUE(split->password.empty());
}

TEST(LibpqParams, QueryKeysThatAreNoKeywordsAreRefusedWithoutTheValue) {
  // A key with a space or '=' would write its own keyword=value pairs.
  for (const std::string text :
       {"postgresql://h/d?a%26b=Zebra42", "postgresql://h/d?x%20host%3D=Zebra42",
        "postgresql://h/d?=Zebra42"}) {
    const Result<PasswordlessConninfo> split = SplitPassword(UrlLibpqParams(Parse(text), {}));
    ASSERT_FALSE(split.ok()) << text;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "is not a libpq connection option", split.error());
    EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra42", split.error());
  }
}

TEST(LibpqParams, NulBytesAreRefusedWithoutTheValue) {
  for (const std::string text : {"postgresql://u:Zebra%0042@h/d", "postgresql://h/Ze%00bra"}) {
    const Result<PasswordlessConninfo> split = SplitPassword(UrlLibpqParams(Parse(text), {}));
    ASSERT_FALSE(split.ok()) << text;
    EXPECT_PRED_FORMAT2(testing::IsSubstring, "NUL byte", split.error());
    EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "Zebra", split.error());
    EXPECT_PRED_FORMAT2(testing::IsNotSubstring, "bra", split.error());
  }
}

}  // namespace
}  // namespace caloria
