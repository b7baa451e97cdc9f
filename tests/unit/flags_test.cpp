#include "config/flags.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace caloria {
namespace {

using Args = std::vector<std::string>;

const std::vector<FlagGroup>& Groups() {
  static const std::vector<FlagGroup> groups = {
      {"General", std::nullopt, {{"log.level", "LEVEL", "Level."}, {"query", "SQL", "Query."}}},
      {"Backup collector",
       SwitchSpec{"collector.backup", "Watch backups", true},
       {{"backup.dir", "PATH", "Folder."}}},
      {"Slow collector", SwitchSpec{"collector.slow", "Be slow", false}, {}},
  };
  return groups;
}

CommandLine Parse(const Args& args) {
  Result<CommandLine> command = ParseCommandLine(args, Groups());
  EXPECT_TRUE(command.ok()) << (command ? "" : command.error());
  return command ? *command : CommandLine{};
}

std::string ErrorFor(const Args& args) {
  const Result<CommandLine> command = ParseCommandLine(args, Groups());
  if (command) {
    ADD_FAILURE() << "accepted";
    return "";
  }
  EXPECT_EQ(command.error().find('\n'), std::string::npos) << command.error();
  return command.error();
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

TEST(Flags, ValueAfterEqualsOrAsTheNextArgument) {
  const CommandLine command = Parse({"--log.level=warn", "--backup.dir", "/srv/backups"});
  EXPECT_EQ(command.kind, CommandLine::Kind::kRun);
  EXPECT_EQ(command.flags.Get("log.level"), "warn");
  EXPECT_EQ(command.flags.Get("backup.dir"), "/srv/backups");
  EXPECT_EQ(command.flags.Get("query"), std::nullopt);
}

TEST(Flags, ValueMayContainEqualsSigns) {
  EXPECT_EQ(Parse({"--query=SELECT count(*) FROM users WHERE active = 1"}).flags.Get("query"),
            "SELECT count(*) FROM users WHERE active = 1");
}

TEST(Flags, LaterFlagWins) {
  EXPECT_EQ(Parse({"--log.level=debug", "--log.level=error"}).flags.Get("log.level"), "error");
}

TEST(Flags, SwitchesTakeTheirDefaultUnlessGiven) {
  const CommandLine none = Parse({});
  EXPECT_TRUE(none.flags.Switch("collector.backup", true));
  EXPECT_FALSE(none.flags.Switch("collector.slow", false));
  const CommandLine flipped = Parse({"--no-collector.backup", "--collector.slow"});
  EXPECT_FALSE(flipped.flags.Switch("collector.backup", true));
  EXPECT_TRUE(flipped.flags.Switch("collector.slow", false));
  EXPECT_TRUE(Parse({"--no-collector.backup", "--collector.backup"})
                  .flags.Switch("collector.backup", true));
}

TEST(Flags, HelpAndVersionAreRequests) {
  EXPECT_EQ(Parse({"--help"}).kind, CommandLine::Kind::kHelp);
  EXPECT_EQ(Parse({"-h"}).kind, CommandLine::Kind::kHelp);
  EXPECT_EQ(Parse({"--version"}).kind, CommandLine::Kind::kVersion);
  EXPECT_EQ(Parse({"--log.level=debug", "--help"}).kind, CommandLine::Kind::kHelp);
}

TEST(Flags, UnknownFlagIsAUsageErrorNamingIt) {
  EXPECT_TRUE(Contains(ErrorFor({"--no-such-flag=1"}), "--no-such-flag"));
  EXPECT_TRUE(Contains(ErrorFor({"--no-log.level"}), "--no-log.level"));
  EXPECT_TRUE(Contains(ErrorFor({"--collector.unknown"}), "--collector.unknown"));
}

TEST(Flags, PositionalArgumentIsAUsageError) {
  EXPECT_TRUE(Contains(ErrorFor({"serve"}), "serve"));
}

TEST(Flags, FlagWithoutValueIsAUsageError) {
  EXPECT_TRUE(Contains(ErrorFor({"--log.level"}), "log.level"));
}

TEST(Flags, SwitchWithAValueIsAUsageError) {
  EXPECT_TRUE(Contains(ErrorFor({"--collector.backup=false"}), "--collector.backup"));
}

TEST(Flags, UsageTextShowsGroupsSwitchesAndDefaults) {
  const std::string usage = UsageText("usage: x\n\n", Groups(), "\nEnvironment: none\n");
  EXPECT_EQ(usage.rfind("usage: x\n\n", 0), 0u) << usage;
  for (const char* part :
       {"--help", "--version", "General:", "--log.level=LEVEL", "--query=SQL", "Backup collector:",
        "--[no-]collector.backup", "Watch backups (default enabled).", "--backup.dir=PATH",
        "--[no-]collector.slow", "Be slow (default disabled).", "Environment: none"}) {
    EXPECT_TRUE(Contains(usage, part)) << part << "\n" << usage;
  }
}

TEST(Flags, PositiveDurationFlag) {
  FlagValues flags;
  EXPECT_EQ(*PositiveDurationFlag(flags, "x", std::chrono::seconds(3)), std::chrono::seconds(3));
  flags.Set("x", "1m30s");
  EXPECT_EQ(*PositiveDurationFlag(flags, "x", std::chrono::seconds(3)), std::chrono::seconds(90));
  for (const char* bad : {"0s", "fast", "15", "-5s", ""}) {
    flags.Set("x", bad);
    const Result<Duration> parsed = PositiveDurationFlag(flags, "x", std::chrono::seconds(3));
    ASSERT_FALSE(parsed.ok()) << bad;
    EXPECT_TRUE(Contains(parsed.error(), "--x='")) << parsed.error();
  }
}

}  // namespace
}  // namespace caloria
