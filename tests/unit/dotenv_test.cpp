#include "config/dotenv.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "config/sqlalchemy_url.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using Json = nlohmann::json;
using Env = std::map<std::string, std::string>;
using Values = std::map<std::string, std::string>;

EnvLookup LookupIn(Env env) {
  return [env = std::move(env)](const std::string& name) -> std::optional<std::string> {
    auto it = env.find(name);
    if (it == env.end()) return std::nullopt;
    return it->second;
  };
}

DotenvFile Parse(const std::string& text, Env env = {}) {
  return ParseDotenv(text, LookupIn(std::move(env)));
}

std::vector<int> WarningLines(const DotenvFile& file) {
  std::vector<int> lines;
  for (const DotenvWarning& warning : file.warnings) lines.push_back(warning.line);
  return lines;
}

bool Mentions(const DotenvWarning& warning, const std::string& word) {
  return warning.message.find(word) != std::string::npos;
}

// The table-shaped cases live in tests/cases/dotenv.json, which
// tests/integration/test_backup_script_agrees.py runs through the backup
// script's tool as well: the exporter and the script read every env file alike.
const Json& Cases() {
  static const Json cases = ::caloria::testing::LoadCases("dotenv.json");
  return cases;
}

TEST(Dotenv, EnvFilesReadAsTheCasesSay) {
  const Json& cases = Cases().at("cases");
  ASSERT_GE(cases.size(), 40u);
  for (const Json& c : cases) {
    SCOPED_TRACE(c.at("name").get<std::string>() + ": " + c.at("text").dump());
    const DotenvFile file = Parse(c.at("text").get<std::string>(), c.value("env", Env{}));
    if (c.contains("values")) {
      EXPECT_EQ(file.values, c["values"].get<Values>());
    }
    // No warning unless the case names its lines.
    EXPECT_EQ(WarningLines(file), c.value("warnings", std::vector<int>{}));
    const auto words = c.value("warning_contains", std::vector<std::string>{});
    for (std::size_t i = 0; i < words.size() && i < file.warnings.size(); ++i) {
      EXPECT_TRUE(Mentions(file.warnings[i], words[i])) << file.warnings[i].message;
    }
    if (c.contains("database_url")) {
      const auto found = file.values.find("DATABASE_URL");
      ASSERT_NE(found, file.values.end());
      const Result<SqlalchemyUrl> url = ParseSqlalchemyUrl(found->second);
      ASSERT_TRUE(url.ok()) << url.error();
      EXPECT_EQ(url->Redacted(), c["database_url"].at("redacted").get<std::string>());
    }
  }
}

TEST(Dotenv, ImpossibleEnvironmentNamesAreNotLookedUp) {
  std::vector<std::string> asked;
  EnvLookup spy = [&asked](const std::string& name) -> std::optional<std::string> {
    asked.push_back(name);
    return "from-env";
  };
  DotenvFile file = ParseDotenv("A=${}|${B=C}|${D}\n", spy);
  EXPECT_EQ(file.values, (Values{{"A", "||from-env"}}));
  EXPECT_EQ(asked, std::vector<std::string>{"D"});
}

TEST(Dotenv, EmptyLookupFunctionUsesFileOnly) {
  DotenvFile file = ParseDotenv("A=1\nB=${A}${Z}\n", EnvLookup{});
  EXPECT_EQ(file.values, (Values{{"A", "1"}, {"B", "1"}}));
}

TEST(Dotenv, ArbitraryBytesNeverThrow) {
  constexpr char kAlphabet[] = "=#'\"\\${}:- \t\r\nAexport\0\xEF\xBB\xBF";
  const std::string alphabet(kAlphabet, sizeof(kAlphabet) - 1);
  std::mt19937 random(12345);
  std::uniform_int_distribution<std::size_t> pick(0, alphabet.size() - 1);
  for (int round = 0; round < 2000; ++round) {
    std::string text;
    for (int i = 0; i < 40; ++i) text.push_back(alphabet[pick(random)]);
    EXPECT_NO_THROW(Parse(text, {{"A", "env"}})) << "input #" << round;
  }
}

}  // namespace
}  // namespace caloria
