#include "collectors/restore/restore_test_collector.h"

#include <algorithm>
#include <chrono>
#include <utility>

#include "collectors/restore/restore_state.h"
#include "core/clock.h"

namespace caloria {
namespace {

using Json = nlohmann::ordered_json;

Json Users(const std::optional<double>& users) {
  return users ? Json(static_cast<long long>(*users)) : Json(nullptr);
}

// One run as the health page shows it.
Json RunDetails(const RestoreRun& run, double now) {
  Json out = Json::object();
  out["finished"] = FormatIsoMicros(FromUnixSeconds(run.finished));
  out["seconds_ago"] = static_cast<long long>(std::max(0.0, now - run.finished));
  out["success"] = run.success;
  if (!run.success) out["error"] = run.error;
  out["duration_seconds"] = run.duration_seconds;
  out["backup_file"] = run.backup_file;
  out["backup_time"] = run.backup_timestamp
                           ? Json(FormatIsoMicros(FromUnixSeconds(*run.backup_timestamp)))
                           : Json(nullptr);
  out["backup_format"] = run.backup_format;
  out["restored_users"] = Users(run.restored_users);
  out["backup_users"] = Users(run.backup_users);
  out["live_users"] = Users(run.live_users);
  out["target"] = run.target;
  return out;
}

Result<RestoreTestSettings> SettingsFromFlags(const FlagValues& flags) {
  RestoreTestSettings settings;
  const Result<std::optional<std::string>> path =
      PathFlag(flags, "restore.state-file",
               "give the file caloria-restore-test writes (its --state), e.g. "
               "/var/lib/caloria-exporter/restore-test.json");
  if (!path) return Fail(path.error());
  settings.state_file = path->value_or("");
  const Result<Duration> max_age = PositiveDurationFlag(flags, "restore.max-age", settings.max_age);
  if (!max_age) return Fail(max_age.error());
  settings.max_age = *max_age;
  return settings;
}

}  // namespace

RestoreTestCollector::RestoreTestCollector(RestoreTestSettings settings)
    : settings_(std::move(settings)) {}

CollectorResult RestoreTestCollector::Collect(const Deadline& /*deadline*/) {
  // One bounded, non-blocking read of a small file: within any deadline.
  const Result<RestoreState> state = ReadRestoreState(settings_.state_file);
  const double now = UnixSeconds(std::chrono::system_clock::now());
  const double max_age = std::chrono::duration<double>(settings_.max_age).count();
  CollectorResult result;
  HealthCheck check;
  check.name = "restore";
  Json& details = check.details;
  details["status"] = HealthStatusName(HealthStatus::kHealthy);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["state_file"] = settings_.state_file;
  details["max_age"] = FormatDuration(settings_.max_age);

  result.families.push_back(SingleGauge(
      "caloria_restore_test_state_readable",
      "Whether the state file caloria-restore-test writes (--restore.state-file) was read and "
      "understood (1) or is missing, unreadable or invalid (0).",
      state ? 1 : 0));
  if (!state) {
    check.status = HealthStatus::kDegraded;
    details["status"] = HealthStatusName(check.status);
    details["error"] = state.error();
    result.error = state.error();
    result.checks.push_back(std::move(check));
    return result;
  }

  const RestoreRun& last = state->last_run;
  const std::optional<RestoreRun>& success = state->last_success;
  result.families.push_back(SingleGauge("caloria_restore_test_last_run_timestamp_seconds",
                                        "When the last restore test finished, passed or not.",
                                        last.finished));
  result.families.push_back(SingleGauge(
      "caloria_restore_test_last_run_success",
      "Whether the last restore test passed (1): the latest backup restored into a scratch "
      "database and held the users recorded when it was made; 0 when it failed.",
      last.success ? 1 : 0));
  result.families.push_back(SingleGauge("caloria_restore_test_duration_seconds",
                                        "How long the last restore test's restore took.",
                                        last.duration_seconds));
  result.families.push_back(
      SingleGauge("caloria_restore_test_last_success_timestamp_seconds",
                  "When the last successful restore test finished; 0 when none ever succeeded.",
                  success ? success->finished : 0));
  if (success) {
    if (success->backup_timestamp) {
      result.families.push_back(
          SingleGauge("caloria_restore_test_backup_timestamp_seconds",
                      "The time of the backup the last successful restore test restored.",
                      *success->backup_timestamp));
    }
    if (success->restored_users) {
      result.families.push_back(
          SingleGauge("caloria_restore_test_users",
                      "Users counted in the copy the last successful restore test restored.",
                      *success->restored_users));
    }
    if (success->backup_users) {
      result.families.push_back(SingleGauge(
          "caloria_restore_test_backup_users",
          "Users recorded for the backup the last successful restore test restored, when it "
          "was made.",
          *success->backup_users));
    }
    if (success->live_users) {
      result.families.push_back(
          SingleGauge("caloria_restore_test_live_users",
                      "Users in the live database while the last successful restore test ran.",
                      *success->live_users));
    }
  }

  std::string degraded_because;
  if (!last.success) {
    degraded_because = "the last restore test failed: " + last.error;
  } else if (!success) {
    degraded_because = "no restore test has succeeded yet";
  } else if (now - success->finished > max_age) {
    degraded_because = "the last successful restore test is older than --restore.max-age=" +
                       FormatDuration(settings_.max_age);
  }
  if (!degraded_because.empty()) check.status = HealthStatus::kDegraded;
  details["status"] = HealthStatusName(check.status);
  if (!degraded_because.empty()) details["reason"] = degraded_because;
  details["last_run"] = RunDetails(last, now);
  details["last_success"] = success ? RunDetails(*success, now) : Json(nullptr);
  result.checks.push_back(std::move(check));
  return result;
}

LogFields RestoreTestCollector::Settings() const {
  return {{"restore_state_file", settings_.state_file},
          {"restore_max_age", FormatDuration(settings_.max_age)}};
}

CollectorSpec RestoreTestCollectorSpec() {
  CollectorSpec spec;
  spec.name = "restore_test";
  spec.title = "Restore test collector";
  spec.help =
      "Read the state scripts/caloria-restore-test leaves: when the latest backup was last "
      "proven to restore, and what the restored copy held";
  spec.flags = {
      {"restore.state-file", "PATH",
       "The state file caloria-restore-test writes (its --state); without it the collector is "
       "off."},
      {"restore.max-age", "DURATION",
       "The restore check is degraded when the last successful restore test is older "
       "(default 8d)."},
  };
  spec.check_flags = [](const FlagValues& flags) -> Status {
    const Result<RestoreTestSettings> settings = SettingsFromFlags(flags);
    return settings ? Status() : Fail(settings.error());
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    Result<RestoreTestSettings> settings = SettingsFromFlags(context.config.flags);
    if (!settings) return Fail(settings.error());
    if (settings->state_file.empty()) return std::unique_ptr<Collector>();
    return std::unique_ptr<Collector>(std::make_unique<RestoreTestCollector>(std::move(*settings)));
  };
  return spec;
}

}  // namespace caloria
