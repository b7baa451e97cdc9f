#include "collectors/registry.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <stdexcept>
#include <string>
#include <vector>

namespace caloria {
namespace {

class NamedCollector : public Collector {
 public:
  explicit NamedCollector(std::string name) : name_(std::move(name)) {}
  std::string Name() const override { return name_; }
  CollectorResult Collect(const Deadline&) override { return {}; }

 private:
  std::string name_;
};

CollectorSpec Spec(const std::string& name, std::vector<std::string> runs_after = {},
                   bool enabled_by_default = true) {
  CollectorSpec spec;
  spec.name = name;
  spec.title = name + " collector";
  spec.help = "Collect " + name;
  spec.enabled_by_default = enabled_by_default;
  spec.runs_after = std::move(runs_after);
  spec.flags = {{name + ".setting", "VALUE", "A setting of " + name + "."}};
  spec.check_flags = [name](const FlagValues& flags) -> Status {
    if (flags.Get(name + ".setting") == "bad") {
      return Fail("--" + name + ".setting='bad': give a good one");
    }
    return {};
  };
  spec.make = [name](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    if (context.config.flags.Get(name + ".setting") == "unbuildable") {
      return Fail("cannot build " + name);
    }
    return std::unique_ptr<Collector>(std::make_unique<NamedCollector>(name));
  };
  return spec;
}

std::vector<std::string> Names(const std::vector<CollectorSpec>& specs) {
  std::vector<std::string> names;
  for (const auto& spec : specs) names.push_back(spec.name);
  return names;
}

std::vector<std::string> Names(const CollectorList& collectors) {
  std::vector<std::string> names;
  for (const auto& collector : collectors) names.push_back(collector->Name());
  return names;
}

Result<CollectorList> BuildWith(const CollectorRegistry& registry,
                                const std::vector<std::string>& args) {
  std::vector<FlagGroup> groups = registry.FlagGroups();
  Result<CommandLine> command = ParseCommandLine(args, groups);
  if (!command) return Fail(command.error());
  Config config;
  config.flags = command->flags;
  SharedObservations shared;
  ConfigStore store(std::make_shared<const Config>(config));
  return registry.Build({config, store, nullptr, shared, [] {}});
}

TEST(CollectorRegistry, RunsEachCollectorAfterThoseItReads) {
  const CollectorRegistry registry({Spec("backup", {"database"}), Spec("config"), Spec("database"),
                                    Spec("report", {"backup", "config"})});
  EXPECT_EQ(Names(registry.specs()),
            (std::vector<std::string>{"database", "backup", "config", "report"}));
}

TEST(CollectorRegistry, WithoutDependenciesKeepsTheGivenOrder) {
  const CollectorRegistry registry({Spec("c"), Spec("a"), Spec("b")});
  EXPECT_EQ(Names(registry.specs()), (std::vector<std::string>{"c", "a", "b"}));
}

TEST(CollectorRegistry, MistakesInTheSpecsAreBugsFoundAtOnce) {
  EXPECT_THROW(CollectorRegistry({Spec("a"), Spec("a")}), std::logic_error);
  EXPECT_THROW(CollectorRegistry({Spec("a", {"missing"})}), std::logic_error);
  EXPECT_THROW(CollectorRegistry({Spec("a", {"b"}), Spec("b", {"a"})}), std::logic_error);
  CollectorSpec without_factory = Spec("a");
  without_factory.make = nullptr;
  EXPECT_THROW(CollectorRegistry({without_factory}), std::logic_error);
}

TEST(CollectorRegistry, GeneratesASwitchAndAGroupOfFlagsPerCollector) {
  const CollectorRegistry registry({Spec("database"), Spec("slow", {}, false)});
  const std::vector<FlagGroup> groups = registry.FlagGroups();
  ASSERT_EQ(groups.size(), 2u);
  EXPECT_EQ(groups[0].title, "database collector");
  ASSERT_TRUE(groups[0].toggle.has_value());
  EXPECT_EQ(groups[0].toggle->name, "collector.database");
  EXPECT_TRUE(groups[0].toggle->default_on);
  ASSERT_EQ(groups[0].flags.size(), 1u);
  EXPECT_EQ(groups[0].flags[0].name, "database.setting");
  EXPECT_FALSE(groups[1].toggle->default_on);
}

TEST(CollectorRegistry, BuildsTheCollectorsSwitchedOnInRunOrder) {
  const CollectorRegistry registry(
      {Spec("backup", {"database"}), Spec("database"), Spec("slow", {}, false)});
  EXPECT_EQ(Names(*BuildWith(registry, {})), (std::vector<std::string>{"database", "backup"}));
  EXPECT_EQ(Names(*BuildWith(registry, {"--collector.slow", "--no-collector.database"})),
            (std::vector<std::string>{"backup", "slow"}));
}

TEST(CollectorRegistry, ABadFlagIsAUsageErrorEvenForACollectorSwitchedOff) {
  const CollectorRegistry registry({Spec("database"), Spec("backup")});
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--backup.setting=bad"},
        std::vector<std::string>{"--backup.setting=bad", "--no-collector.backup"}}) {
    const Result<CollectorList> built = BuildWith(registry, args);
    ASSERT_FALSE(built.ok()) << args.size();
    EXPECT_EQ(built.error(), "--backup.setting='bad': give a good one");
  }
}

TEST(CollectorRegistry, AFactoryErrorIsTheUsageError) {
  const CollectorRegistry registry({Spec("database"), Spec("backup")});
  const Result<CollectorList> built = BuildWith(registry, {"--backup.setting=unbuildable"});
  ASSERT_FALSE(built.ok());
  EXPECT_EQ(built.error(), "cannot build backup");
  // A collector switched off is not built.
  EXPECT_TRUE(BuildWith(registry, {"--backup.setting=unbuildable", "--no-collector.backup"}).ok());
}

TEST(BuiltinCollectors, AreTheExportersCollectorsInRunOrder) {
  EXPECT_EQ(Names(BuiltinCollectors().specs()),
            (std::vector<std::string>{"config", "database", "pg_stats", "backup", "restore_test",
                                      "process", "app_probe", "app_process", "fallback_sqlite",
                                      "consistency"}));
}

TEST(BuiltinCollectors, TheBackupCollectorRunsAfterTheDatabaseCollectorItReads) {
  for (const auto& spec : BuiltinCollectors().specs()) {
    if (spec.name == "backup") {
      EXPECT_EQ(spec.runs_after, (std::vector<std::string>{"database"}));
    }
  }
}

TEST(BuiltinCollectors, DeclareTheirFlags) {
  std::vector<std::string> flags;
  for (const auto& group : BuiltinCollectors().FlagGroups()) {
    for (const auto& flag : group.flags) flags.push_back(flag.name);
  }
  for (const char* flag : {"database.users-query", "backup.dir", "backup.pattern", "backup.max-age",
                           "backup.retention", "backup.log", "backup.users-table",
                           "backup.verify-timeout", "app.health-url", "app.health-ca-file"}) {
    EXPECT_NE(std::find(flags.begin(), flags.end(), flag), flags.end()) << flag;
  }
}

TEST(BuiltinCollectors, BadFlagValuesOfACollectorAreUsageErrors) {
  for (const std::vector<std::string>& args :
       std::vector<std::vector<std::string>>{{"--database.users-query=DELETE FROM users"},
                                             {"--backup.max-age=soon"},
                                             {"--backup.pattern=a/b"},
                                             {"--backup.dir="},
                                             {"--app.health-url=ftp://caloria.example/"}}) {
    const Result<CollectorList> built = BuildWith(BuiltinCollectors(), args);
    EXPECT_FALSE(built.ok()) << args[0];
    std::vector<std::string> switched_off = args;
    switched_off.push_back("--no-collector.database");
    switched_off.push_back("--no-collector.backup");
    EXPECT_FALSE(BuildWith(BuiltinCollectors(), switched_off).ok()) << args[0];
  }
}

}  // namespace
}  // namespace caloria
