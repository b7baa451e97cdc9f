#include "poll/fleet.h"

#include <gtest/gtest.h>

#include <sstream>

namespace caloria {
namespace {

// A collector that reports the database host of the configuration in force
// and the flag it was built with.
class EchoCollector : public Collector {
 public:
  EchoCollector(const ConfigStore& store, std::string built_with)
      : store_(store), built_with_(std::move(built_with)) {}
  std::string Name() const override { return "echo"; }
  CollectorResult Collect(const Deadline&) override {
    CollectorResult result;
    HealthCheck check;
    check.name = "echo";
    check.details["host"] = store_.Latest()->database.url.host;
    check.details["built_with"] = built_with_;
    result.checks.push_back(check);
    return result;
  }

 private:
  const ConfigStore& store_;
  std::string built_with_;
};

CollectorRegistry EchoRegistry() {
  CollectorSpec spec;
  spec.name = "echo";
  spec.title = "Echo";
  spec.help = "Echo.";
  spec.flags = {{"echo.setting", "X", "A setting."}};
  spec.check_flags = [](const FlagValues& flags) -> Status {
    if (flags.Get("echo.setting") == "bad") return Fail("--echo.setting=bad: use another");
    return {};
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    return std::unique_ptr<Collector>(std::make_unique<EchoCollector>(
        context.store, context.config.flags.Get("echo.setting").value_or("")));
  };
  return CollectorRegistry({spec});
}

Target MakeTarget(const std::string& name, const std::string& host, const std::string& setting) {
  Target target;
  target.name = name;
  target.database.url.host = host;
  target.flags.Set("echo.setting", setting);
  return target;
}

std::shared_ptr<const Config> ConfigOf(std::vector<Target> targets) {
  auto config = std::make_shared<Config>();
  config->targets = std::move(targets);
  config->database = config->targets.front().database;
  return config;
}

std::string Reported(TargetPoll& poll, const std::string& field, Logger& logger) {
  const Snapshot snapshot = poll.Poll(std::chrono::seconds(1), {"1", "r"}, logger);
  const HealthCheck* check = snapshot.FindCheck("echo");
  return check ? check->details[field].get<std::string>() : "";
}

struct Harness {
  std::ostringstream log;
  Logger logger{log, LogLevel::kDebug, LogFormat::kLogfmt};
  CollectorRegistry registry = EchoRegistry();
  ConfigStore store{ConfigOf(
      {MakeTarget("a", "a1", "x"), MakeTarget("b", "b1", "x"), MakeTarget("c", "c1", "x")})};
  Fleet fleet{{registry, store, nullptr, [](const std::string&) {}, logger}};
};

std::vector<std::string> Names(const TargetList& list) {
  std::vector<std::string> names;
  for (const auto& poll : list) names.push_back(poll->name());
  return names;
}

TEST(Fleet, BuildsOneTargetPollPerTargetInOrder) {
  Harness h;
  ASSERT_TRUE(h.fleet.Build());
  EXPECT_EQ(h.log.str(), "") << "nothing logged before the start is sure";
  h.fleet.LogCollectors();
  const TargetList targets = h.fleet.Targets();
  EXPECT_EQ(Names(targets), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(Reported(*targets[1], "host", h.logger), "b1");
  EXPECT_NE(h.log.str().find("msg=\"collector enabled\" target=b collector=echo"),
            std::string::npos)
      << h.log.str();
}

TEST(Fleet, AReloadKeepsUnchangedTargetsRebuildsChangedOnesAndDropsRemovedOnes) {
  Harness h;
  ASSERT_TRUE(h.fleet.Build());
  const TargetList before = h.fleet.Targets();
  h.store.Publish(ConfigOf(
      {MakeTarget("a", "a2", "x"), MakeTarget("b", "b1", "y"), MakeTarget("d", "d1", "x")}));
  const TargetList after = h.fleet.Targets();
  EXPECT_EQ(Names(after), (std::vector<std::string>{"a", "b", "d"}));
  EXPECT_EQ(after[0], before[0]) << "same settings: the same collectors";
  EXPECT_EQ(Reported(*after[0], "host", h.logger), "a2") << "reading the new configuration";
  EXPECT_NE(after[1], before[1]) << "changed settings: new collectors";
  EXPECT_EQ(Reported(*after[1], "built_with", h.logger), "y");
  EXPECT_NE(h.log.str().find("msg=\"target removed\" target=c"), std::string::npos);
  EXPECT_NE(h.log.str().find("msg=\"target added\" target=d"), std::string::npos);
  EXPECT_NE(h.log.str().find("msg=\"target changed\" target=b"), std::string::npos);
}

TEST(Fleet, ATargetThatCannotBeBuiltFailsTheStartButKeepsItsOldCollectorsOnReload) {
  {
    Harness h;
    h.store.Publish(ConfigOf({MakeTarget("a", "a1", "bad")}));
    const Status built = h.fleet.Build();
    ASSERT_FALSE(built);
    EXPECT_EQ(built.error(), "target a: --echo.setting=bad: use another");
  }
  Harness h;
  ASSERT_TRUE(h.fleet.Build());
  const TargetList before = h.fleet.Targets();
  h.store.Publish(ConfigOf({MakeTarget("a", "a1", "bad")}));
  const TargetList after = h.fleet.Targets();
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_NE(h.log.str().find("cannot rebuild a target's collectors"), std::string::npos);
}

}  // namespace
}  // namespace caloria
