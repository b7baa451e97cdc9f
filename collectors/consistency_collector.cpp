#include "collectors/consistency_collector.h"

#include <cmath>

#include "core/clock.h"

namespace caloria {
namespace {

std::string TypeName(DatabaseType type) { return DatabaseTypeName(type); }

std::string Count(double value) { return std::to_string(static_cast<long long>(value)); }

nlohmann::ordered_json ViewJson(const std::optional<AppView>& view) {
  if (!view) return nullptr;
  nlohmann::ordered_json json;
  json["database"] = view->database_type ? nlohmann::ordered_json(TypeName(*view->database_type))
                                         : nlohmann::ordered_json(nullptr);
  json["evidence"] = view->evidence;
  if (view->users) json["user_count"] = static_cast<long long>(*view->users);
  return json;
}

// The type the app should be on: the expected one when declared, else the
// configured one.
DatabaseType Wanted(const ConsistencyFacts& facts) {
  switch (facts.expected_type) {
    case ExpectedType::kPostgresql:
      return DatabaseType::kPostgresql;
    case ExpectedType::kSqlite:
      return DatabaseType::kSqlite;
    case ExpectedType::kAny:
      break;
  }
  return facts.configured_type;
}

}  // namespace

ConsistencyVerdict JudgeConsistency(const ConsistencyFacts& facts) {
  ConsistencyVerdict verdict;
  const auto find = [&](HealthStatus status, std::string reason) {
    verdict.status = std::max(verdict.status, status);
    verdict.reasons.push_back(std::move(reason));
  };
  const DatabaseType wanted = Wanted(facts);
  const std::string why = facts.expected_type == ExpectedType::kAny
                              ? "the app's env file configures " + TypeName(wanted)
                              : TypeName(wanted) + " is expected";
  for (const std::optional<AppView>* view : {&facts.probe, &facts.process}) {
    if (!*view || !(*view)->database_type || *(*view)->database_type == wanted) continue;
    const std::string message =
        "the running app is on " + TypeName(*(*view)->database_type) + " (" + (*view)->evidence +
        ") but " + why +
        ": the app did not load DATABASE_URL; fix how it loads its .env, restart it, then move "
        "what it wrote to " +
        TypeName(*(*view)->database_type) + " into " + TypeName(wanted);
    find(HealthStatus::kUnhealthy, message);
    if (verdict.problems.empty() || verdict.problems.back().check != "app_database_unexpected") {
      verdict.problems.push_back({"app_database_unexpected", message, HealthStatus::kUnhealthy});
    }
  }
  if (facts.fallback && facts.fallback->being_written && wanted == DatabaseType::kPostgresql) {
    find(HealthStatus::kUnhealthy, "the fallback file " + facts.fallback->path +
                                       " is being written while " + why +
                                       ": the app is running on SQLite");
  }
  if (facts.probe && facts.probe->users && facts.database_users) {
    const double difference = std::fabs(*facts.probe->users - *facts.database_users);
    if (difference > facts.users_tolerance) {
      const std::string message =
          "the app counts " + Count(*facts.probe->users) + " users but its configured database " +
          Count(*facts.database_users) +
          " (more than --app.users-tolerance=" + Count(facts.users_tolerance) +
          " apart): the app is not using the database the exporter watches; compare its "
          "DATABASE_URL with the env file's";
      find(HealthStatus::kDegraded, message);
      verdict.problems.push_back({"app_users_differ", message, HealthStatus::kDegraded});
    }
  }
  return verdict;
}

ConsistencyCollector::ConsistencyCollector(const ConfigStore& store,
                                           const SharedObservations& shared, double users_tolerance)
    : store_(store), shared_(shared), users_tolerance_(users_tolerance) {}

CollectorResult ConsistencyCollector::Collect(const Deadline& /*deadline*/) {
  const std::shared_ptr<const Config> config = store_.Latest();
  ConsistencyFacts facts;
  facts.configured_type = config->database.url.type;
  facts.expected_type = config->database.expected_type;
  facts.probe = shared_.app_probe->Get();
  facts.process = shared_.app_process->Get();
  facts.fallback = shared_.fallback->Get();
  facts.database_users = shared_.live_users->Get();
  facts.users_tolerance = users_tolerance_;
  const ConsistencyVerdict verdict = JudgeConsistency(facts);

  CollectorResult result;
  result.problems = verdict.problems;
  HealthCheck check;
  check.name = "consistency";
  check.status = verdict.status;
  auto& details = check.details;
  details["status"] = HealthStatusName(verdict.status);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["configured_database"] = TypeName(facts.configured_type);
  details["expected_type"] = ExpectedTypeName(facts.expected_type);
  details["app_probe"] = ViewJson(facts.probe);
  details["app_process"] = ViewJson(facts.process);
  if (facts.fallback) {
    details["fallback_sqlite"] = {{"path", facts.fallback->path},
                                  {"exists", facts.fallback->exists},
                                  {"being_written", facts.fallback->being_written}};
  } else {
    details["fallback_sqlite"] = nullptr;
  }
  details["database_user_count"] =
      facts.database_users ? nlohmann::ordered_json(static_cast<long long>(*facts.database_users))
                           : nlohmann::ordered_json(nullptr);
  details["users_tolerance"] = static_cast<long long>(users_tolerance_);
  if (!facts.probe && !facts.process && !facts.fallback) {
    details["note"] =
        "nothing to compare: give --app.health-url or --app.process to see the running app";
  }
  if (!verdict.reasons.empty()) details["problems"] = verdict.reasons;
  result.checks.push_back(std::move(check));
  return result;
}

LogFields ConsistencyCollector::Settings() const {
  return {{"users_tolerance", Count(users_tolerance_)}};
}

namespace {

Result<double> UsersTolerance(const FlagValues& flags) {
  const Result<long long> parsed = IntegerFlag(flags, "app.users-tolerance", 0, 0, 1'000'000'000);
  if (!parsed) return Fail(parsed.error());
  return static_cast<double>(*parsed);
}

}  // namespace

CollectorSpec ConsistencyCollectorSpec() {
  CollectorSpec spec;
  spec.name = "consistency";
  spec.title = "Consistency collector";
  spec.help =
      "Judge whether the running app uses the database it is configured for (the \"consistency\" "
      "check)";
  spec.flags = {{"app.users-tolerance", "COUNT",
                 "How far the app's user count (--app.health-url) may be from the database's "
                 "before app_users_differ (default 0)."}};
  // It compares what each of these saw in the same poll.
  spec.runs_after = {"config", "database", "app_probe", "app_process", "fallback_sqlite"};
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<double> tolerance = UsersTolerance(flags);
    return tolerance ? Status() : Fail(tolerance.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    const Result<double> tolerance = UsersTolerance(context.config.flags);
    if (!tolerance) return Fail(tolerance.error());
    return std::unique_ptr<Collector>(
        std::make_unique<ConsistencyCollector>(context.store, context.shared, *tolerance));
  };
  return spec;
}

}  // namespace caloria
