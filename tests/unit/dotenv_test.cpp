#include "config/dotenv.h"

#include <gtest/gtest.h>

#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace caloria {
namespace {

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

// Parses text that is expected to be well-formed and returns its values.
Values ValuesOf(const std::string& text, Env env = {}) {
  DotenvFile file = Parse(text, std::move(env));
  EXPECT_TRUE(file.warnings.empty()) << "first warning: " << file.warnings.front().message;
  return file.values;
}

std::vector<int> WarningLines(const DotenvFile& file) {
  std::vector<int> lines;
  for (const DotenvWarning& warning : file.warnings) lines.push_back(warning.line);
  return lines;
}

bool Mentions(const DotenvWarning& warning, const std::string& word) {
  return warning.message.find(word) != std::string::npos;
}

TEST(Dotenv, EmptyInputHasNoValues) {
  EXPECT_TRUE(ValuesOf("").empty());
  EXPECT_TRUE(ValuesOf("\n\n  \n").empty());
}

TEST(Dotenv, CommentsAndBlankLinesAreIgnored) {
  EXPECT_EQ(ValuesOf("# leading comment\n\n  # indented comment\nA=1\n\n\nB=2\n# end"),
            (Values{{"A", "1"}, {"B", "2"}}));
}

TEST(Dotenv, ExportPrefixIsIgnored) {
  EXPECT_EQ(ValuesOf("export A=1\nexport\tB=2\n"), (Values{{"A", "1"}, {"B", "2"}}));
}

TEST(Dotenv, ExportWithoutFollowingSpaceIsAnOrdinaryName) {
  EXPECT_EQ(ValuesOf("export=1\nexported=2\n"), (Values{{"export", "1"}, {"exported", "2"}}));
}

TEST(Dotenv, SpacesAroundEqualsAreIgnored) {
  EXPECT_EQ(ValuesOf("  A = 1\nB\t=\t2\n"), (Values{{"A", "1"}, {"B", "2"}}));
}

TEST(Dotenv, UnquotedValueIsTrimmedButKeepsInnerSpaces) {
  EXPECT_EQ(ValuesOf("A=hello   world   \n"), (Values{{"A", "hello   world"}}));
}

TEST(Dotenv, UnquotedValueDropsCommentAfterWhitespace) {
  EXPECT_EQ(ValuesOf("A=value # a comment\nB=value\t#tab comment\n"),
            (Values{{"A", "value"}, {"B", "value"}}));
}

TEST(Dotenv, HashWithoutPrecedingSpaceIsPartOfValue) {
  EXPECT_EQ(ValuesOf("A=pass#word\nB=#hash\n"), (Values{{"A", "pass#word"}, {"B", "#hash"}}));
}

TEST(Dotenv, CommentDirectlyAfterSpacedEqualsMeansEmptyValue) {
  EXPECT_EQ(ValuesOf("A= # nothing here\n"), (Values{{"A", ""}}));
}

TEST(Dotenv, EmptyValueIsEmptyString) {
  EXPECT_EQ(ValuesOf("A=\nB=''\nC=\"\"\nD=   \nE="),
            (Values{{"A", ""}, {"B", ""}, {"C", ""}, {"D", ""}, {"E", ""}}));
}

TEST(Dotenv, SingleQuotedValueIsLiteral) {
  EXPECT_EQ(ValuesOf("X=expanded\nA='${X} \\n # not a comment'\n"),
            (Values{{"X", "expanded"}, {"A", "${X} \\n # not a comment"}}));
}

TEST(Dotenv, SingleQuotedValueUnescapesOnlyQuoteAndBackslash) {
  EXPECT_EQ(ValuesOf(R"(A='it\'s C:\\dir\t')"), (Values{{"A", R"(it's C:\dir\t)"}}));
}

TEST(Dotenv, DoubleQuotedValueDecodesEscapes) {
  EXPECT_EQ(ValuesOf(R"(A="a\nb\tc\rd\\e\"f\'g\ah\bi\fj\vk")"),
            (Values{{"A", "a\nb\tc\rd\\e\"f'g\ah\bi\fj\vk"}}));
}

TEST(Dotenv, DoubleQuotedValueKeepsUnknownEscapes) {
  EXPECT_EQ(ValuesOf(R"(A="\x41\$\q")"), (Values{{"A", R"(\x41\$\q)"}}));
}

TEST(Dotenv, DoubleQuotedValueKeepsHashAndSpaces) {
  EXPECT_EQ(ValuesOf("A=\"  a # b  \"\n"), (Values{{"A", "  a # b  "}}));
}

TEST(Dotenv, DoubleQuotedValueMaySpanLines) {
  EXPECT_EQ(ValuesOf("A=\"line one\nline two\"\nB=after\n"),
            (Values{{"A", "line one\nline two"}, {"B", "after"}}));
}

TEST(Dotenv, SingleQuotedValueMaySpanLines) {
  EXPECT_EQ(ValuesOf("A='-----BEGIN KEY-----\nabc\n-----END KEY-----'\nB=after\n"),
            (Values{{"A", "-----BEGIN KEY-----\nabc\n-----END KEY-----"}, {"B", "after"}}));
}

TEST(Dotenv, QuotedValueMayBeFollowedByComment) {
  EXPECT_EQ(ValuesOf("A=\"x\" # note\nB='y'# note\n"), (Values{{"A", "x"}, {"B", "y"}}));
}

TEST(Dotenv, QuotedKeyMayContainSpaces) {
  EXPECT_EQ(ValuesOf("'my key'=1\n"), (Values{{"my key", "1"}}));
}

TEST(Dotenv, LaterAssignmentWins) {
  EXPECT_EQ(ValuesOf("A=first\nA=second\n"), (Values{{"A", "second"}}));
}

TEST(Dotenv, KeyWithoutEqualsIsNotSetAndNotWarned) {
  DotenvFile file = Parse("LONELY\nA=1\nSPACED # comment\n");
  EXPECT_TRUE(file.warnings.empty());
  EXPECT_EQ(file.values, (Values{{"A", "1"}}));
}

TEST(Dotenv, KeyWithoutEqualsUnsetsEarlierValue) { EXPECT_EQ(ValuesOf("A=1\nA\n"), Values{}); }

TEST(Dotenv, ExpandsValueDefinedEarlierInFile) {
  EXPECT_EQ(ValuesOf("HOST=db\nURL=postgres://${HOST}/app\n"),
            (Values{{"HOST", "db"}, {"URL", "postgres://db/app"}}));
}

TEST(Dotenv, ExpandsInsideDoubleQuotes) {
  EXPECT_EQ(ValuesOf("USER=bob\nGREETING=\"hi ${USER}\"\n"),
            (Values{{"USER", "bob"}, {"GREETING", "hi bob"}}));
}

TEST(Dotenv, ProcessEnvironmentWinsOverEarlierFileValue) {
  EXPECT_EQ(ValuesOf("HOST=file\nURL=${HOST}\n", {{"HOST", "env"}}),
            (Values{{"HOST", "file"}, {"URL", "env"}}));
}

TEST(Dotenv, DefaultIsUsedWhenVariableIsUndefined) {
  EXPECT_EQ(ValuesOf("PORT=${PORT:-5432}\nEMPTY=${NONE:-}\n"),
            (Values{{"PORT", "5432"}, {"EMPTY", ""}}));
}

TEST(Dotenv, DefaultIsNotUsedWhenVariableIsSetToEmpty) {
  // python-dotenv's ":-" only checks for absence, unlike POSIX shells.
  EXPECT_EQ(ValuesOf("A=\nB=${A:-default}\nC=${E:-default}\n", {{"E", ""}}),
            (Values{{"A", ""}, {"B", ""}, {"C", ""}}));
}

TEST(Dotenv, BareKeyExpandsToEmptyIgnoringDefault) {
  // python-dotenv records a bare KEY as None, which beats the default.
  EXPECT_EQ(ValuesOf("A\nB=${A:-default}\n"), (Values{{"B", ""}}));
}

TEST(Dotenv, UndefinedVariableExpandsToEmpty) {
  EXPECT_EQ(ValuesOf("A=[${MISSING}]\n"), (Values{{"A", "[]"}}));
}

TEST(Dotenv, ExpansionSeesOnlyEarlierLines) {
  EXPECT_EQ(ValuesOf("A=1\nB=${A}${C}\nA=2\nC=3\n"), (Values{{"A", "2"}, {"B", "1"}, {"C", "3"}}));
}

TEST(Dotenv, IncompleteOrShellStyleReferencesStayLiteral) {
  EXPECT_EQ(ValuesOf("A=$HOME ${B ${C:x} $"), (Values{{"A", "$HOME ${B ${C:x} $"}}));
}

TEST(Dotenv, DefaultEndsAtFirstClosingBrace) {
  EXPECT_EQ(ValuesOf("A=${X:-${Y}}\n"), (Values{{"A", "${Y}"}}));
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

TEST(Dotenv, MissingKeyIsWarnedWithLineNumber) {
  DotenvFile file = Parse("A=1\n=value\nB=2\n");
  EXPECT_EQ(file.values, (Values{{"A", "1"}, {"B", "2"}}));
  ASSERT_EQ(WarningLines(file), std::vector<int>{2});
  EXPECT_TRUE(Mentions(file.warnings[0], "missing variable name"));
}

TEST(Dotenv, TextAfterKeyIsWarnedAndLineSkipped) {
  DotenvFile file = Parse("# header\nnot a key line\nB=2\n");
  EXPECT_EQ(file.values, (Values{{"B", "2"}}));
  ASSERT_EQ(WarningLines(file), std::vector<int>{2});
  EXPECT_TRUE(Mentions(file.warnings[0], "expected '='"));
}

TEST(Dotenv, WarningPointsAtEntryNotPrecedingBlankLines) {
  EXPECT_EQ(WarningLines(Parse("A=1\n\n\n  =oops\n")), std::vector<int>{4});
}

TEST(Dotenv, UnterminatedDoubleQuoteIsWarnedAndParsingContinues) {
  DotenvFile file = Parse("A=\"never closed\nB=2\n");
  EXPECT_EQ(file.values, (Values{{"B", "2"}}));
  ASSERT_EQ(WarningLines(file), std::vector<int>{1});
  EXPECT_TRUE(Mentions(file.warnings[0], "unterminated double-quoted"));
}

TEST(Dotenv, UnterminatedSingleQuoteIsWarnedAndParsingContinues) {
  DotenvFile file = Parse("A=1\nB='never closed\nC=3");
  EXPECT_EQ(file.values, (Values{{"A", "1"}, {"C", "3"}}));
  ASSERT_EQ(WarningLines(file), std::vector<int>{2});
  EXPECT_TRUE(Mentions(file.warnings[0], "unterminated single-quoted"));
}

TEST(Dotenv, TextAfterClosingQuoteIsWarned) {
  DotenvFile file = Parse("A=\"x\" y\nB=2\n");
  EXPECT_EQ(file.values, (Values{{"B", "2"}}));
  ASSERT_EQ(WarningLines(file), std::vector<int>{1});
  EXPECT_TRUE(Mentions(file.warnings[0], "after the closing quote"));
}

TEST(Dotenv, LineNumbersCountLinesOfMultiLineValues) {
  DotenvFile file = Parse("A=\"one\ntwo\nthree\"\n=bad\nB='x\ny' junk\nC=3\nbad line\n");
  EXPECT_EQ(file.values, (Values{{"A", "one\ntwo\nthree"}, {"C", "3"}}));
  EXPECT_EQ(WarningLines(file), (std::vector<int>{4, 5, 8}));
}

TEST(Dotenv, CrlfLineEndingsAreNewlines) {
  EXPECT_EQ(ValuesOf("# c\r\nA=1\r\nB=\"x\r\ny\"\r\nC=3 # c\r\n"),
            (Values{{"A", "1"}, {"B", "x\ny"}, {"C", "3"}}));
  EXPECT_EQ(WarningLines(Parse("A=1\r\n\r\n=bad\r\n")), std::vector<int>{3});
}

TEST(Dotenv, ByteOrderMarkIsIgnored) {
  EXPECT_EQ(ValuesOf("\xEF\xBB\xBF"
                     "A=1\n"),
            (Values{{"A", "1"}}));
}

TEST(Dotenv, MissingFinalNewlineIsFine) {
  EXPECT_EQ(ValuesOf("A=1\nB=\"two\""), (Values{{"A", "1"}, {"B", "two"}}));
}

TEST(Dotenv, EmbeddedNulIsKeptAsData) {
  const std::string text("A=x\0y\nB=2\n", 10);
  EXPECT_EQ(ValuesOf(text), (Values{{"A", std::string("x\0y", 3)}, {"B", "2"}}));
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
