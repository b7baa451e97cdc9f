#include "config/dotenv.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <cstddef>
#include <fstream>
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

// Issue 10: 285 bytes, each line four times the one before; the last would
// be 4 GiB, and the exporter died of std::bad_alloc. G is 64 KiB exactly and
// is kept; H would be 256 KiB and is skipped with a warning naming its line,
// so the lines after it refer to a variable that is not set.
TEST(Dotenv, ExpansionBombIsSkippedWithAWarningNamingItsLine) {
  std::string text = "A=" + std::string(16, 'a') + "\n";
  for (char name = 'B'; name <= 'O'; ++name) {
    const std::string ref = std::string("${") + static_cast<char>(name - 1) + "}";
    text += std::string(1, name) + "=" + ref + ref + ref + ref + "\n";
  }
  ASSERT_EQ(text.size(), 285u);
  const DotenvFile file = Parse(text);
  EXPECT_EQ(WarningLines(file), std::vector<int>{8});
  ASSERT_EQ(file.warnings.size(), 1u);
  EXPECT_TRUE(Mentions(file.warnings[0], "64 KiB")) << file.warnings[0].message;
  ASSERT_EQ(file.values.count("G"), 1u);
  EXPECT_EQ(file.values.at("G").size(), kMaxDotenvValueBytes);
  EXPECT_EQ(file.values.count("H"), 0u);
  for (const char* name : {"I", "J", "K", "L", "M", "N", "O"}) {
    EXPECT_EQ(file.values.at(name), "") << name;
  }
}

TEST(Dotenv, ExpansionIsBoundedForProcessEnvironmentValuesToo) {
  const DotenvFile file =
      Parse("A=${BIG}${BIG}\nB=${BIG}\n", {{"BIG", std::string(40 * 1024, 'b')}});
  EXPECT_EQ(WarningLines(file), std::vector<int>{1});
  EXPECT_EQ(file.values.count("A"), 0u);
  EXPECT_EQ(file.values.at("B").size(), 40u * 1024);
}

TEST(Dotenv, LiteralValuesOverTheBoundAreSkippedToo) {
  const std::string big(kMaxDotenvValueBytes + 1, 'x');
  const DotenvFile file = Parse("A='" + big + "'\nB=" + big + "\nC=ok\n");
  EXPECT_EQ(WarningLines(file), (std::vector<int>{1, 2}));
  EXPECT_EQ(file.values, (Values{{"C", "ok"}}));
}

// Each value within its own bound, but together they would copy a 64 KiB
// value once per line: all of them together stop at 1 MiB.
TEST(Dotenv, AllValuesTogetherAreBounded) {
  std::string text = "A=${Z}${Z}${Z}${Z}\n";  // 4 x 16 KiB from the environment
  for (int i = 0; i < 40; ++i) text += "B" + std::to_string(i) + "=${A}\n";
  const DotenvFile file = Parse(text, {{"Z", std::string(16 * 1024, 'z')}});
  // A and 15 copies of it are 1 MiB; the 16th copy would pass it.
  EXPECT_EQ(file.values.size(), 16u);
  ASSERT_EQ(file.warnings.size(), 25u);
  EXPECT_EQ(file.warnings.front().line, 17);
  EXPECT_TRUE(Mentions(file.warnings.front(), "1 MiB")) << file.warnings.front().message;
}

TEST(Dotenv, FileOverOneMebibyteIsReadUpToItsLastWholeLine) {
  std::string text = "A=1\n";
  int lines = 1;
  while (text.size() < kMaxDotenvFileBytes - 100) {
    text += "# " + std::string(98, 'c') + "\n";
    ++lines;
  }
  text += "B=" + std::string(200, 'b') + "\n";  // crosses the bound: not read, not cut
  text += "C=3\n";
  const DotenvFile file = Parse(text);
  EXPECT_EQ(file.values, (Values{{"A", "1"}}));
  EXPECT_EQ(WarningLines(file), std::vector<int>{lines + 1});
  EXPECT_TRUE(Mentions(file.warnings[0], "larger than 1 MiB")) << file.warnings[0].message;

  // One line longer than the bound: nothing is read.
  const DotenvFile one_line = Parse("A=" + std::string(kMaxDotenvFileBytes, 'a'));
  EXPECT_TRUE(one_line.values.empty());
  EXPECT_EQ(WarningLines(one_line), std::vector<int>{1});
}

TEST(Dotenv, ReadDotenvFileReadsOneByteMoreThanTheBound) {
  ::caloria::testing::TempDir dir;
  const std::string path = dir.File(".env");
  {
    std::ofstream out(path, std::ios::binary);
    out << "A=1\n" << std::string(3 * kMaxDotenvFileBytes, '#');
  }
  const Result<std::string> text = ReadDotenvFile(path);
  ASSERT_TRUE(text) << text.error();
  EXPECT_EQ(text->size(), kMaxDotenvFileBytes + 1);
  const DotenvFile file = Parse(*text);
  EXPECT_EQ(file.values, (Values{{"A", "1"}}));
  EXPECT_EQ(WarningLines(file), std::vector<int>{2});

  for (const std::string& bad : {dir.File("missing"), dir.Path()}) {
    const Result<std::string> refused = ReadDotenvFile(bad);
    ASSERT_FALSE(refused);
    EXPECT_NE(refused.error().find(bad), std::string::npos) << refused.error();
  }
  const std::string fifo = dir.File("fifo.env");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  const Result<std::string> pipe = ReadDotenvFile(fifo);
  ASSERT_FALSE(pipe);
  EXPECT_NE(pipe.error().find("not a regular file"), std::string::npos) << pipe.error();
}

}  // namespace
}  // namespace caloria
