#include "collectors/database/users_query.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

// Expects a usage error whose message is one non-empty line naming the flag.
void ExpectOneLineUsageError(const std::string& query) {
  SCOPED_TRACE(query);
  const Result<std::string> validated = ValidateUsersQuery(query);
  ASSERT_FALSE(validated.ok()) << "accepted: " << *validated;
  EXPECT_NE(validated.error().find("--database.users-query"), std::string::npos)
      << validated.error();
  EXPECT_EQ(validated.error().find('\n'), std::string::npos) << validated.error();
}

std::string Valid(const std::string& query) {
  const Result<std::string> validated = ValidateUsersQuery(query);
  EXPECT_TRUE(validated.ok()) << query << ": " << (validated ? "" : validated.error());
  return validated ? *validated : "";
}

TEST(UsersQuery, TheDefaultIsValid) {
  EXPECT_EQ(Valid(kDefaultUsersQuery), "SELECT count(*) FROM users");
}

TEST(UsersQuery, TwoStatementsAreAUsageError) {
  ExpectOneLineUsageError("SELECT 1; SELECT 2");
  ExpectOneLineUsageError("SELECT count(*) FROM users; DROP TABLE users");
}

TEST(UsersQuery, AQueryThatIsNotASelectIsAUsageError) {
  ExpectOneLineUsageError("DELETE FROM users");
  ExpectOneLineUsageError("UPDATE users SET name = 'x'");
}

TEST(UsersQuery, AnEmptyQueryIsAUsageError) {
  ExpectOneLineUsageError("");
  ExpectOneLineUsageError("   ");
  ExpectOneLineUsageError(";");
}

TEST(UsersQuery, IsTrimmedOfBlanksAndTrailingSemicolons) {
  EXPECT_EQ(Valid("  select count(*) from accounts ;  "), "select count(*) from accounts");
}

TEST(UsersQuery, MayStartWithWith) {
  EXPECT_EQ(Valid("WITH u AS (SELECT id FROM users) SELECT count(*) FROM u"),
            "WITH u AS (SELECT id FROM users) SELECT count(*) FROM u");
}

TEST(UsersQuery, MayContainEqualsSigns) {
  EXPECT_EQ(Valid("SELECT count(*) FROM users WHERE active = 1"),
            "SELECT count(*) FROM users WHERE active = 1");
}

}  // namespace
}  // namespace caloria
