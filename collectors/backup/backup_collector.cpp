#include "collectors/backup/backup_collector.h"

#include "core/clock.h"

namespace caloria {
namespace {

std::optional<std::string> IsoTime(const std::optional<std::time_t>& time) {
  if (!time) return std::nullopt;
  return FormatIsoMicros(std::chrono::system_clock::from_time_t(*time));
}

const char* VerificationState(const std::optional<BackupVerification>& verification) {
  if (!verification) return "pending";
  if (verification->timed_out) return "timed_out";
  return verification->verified ? "passed" : "failed";
}

}  // namespace

BackupCollector::BackupCollector(BackupSettings settings,
                                 std::shared_ptr<const LiveUserCount> live_users,
                                 std::function<void()> on_verified)
    : settings_(std::move(settings)),
      live_users_(std::move(live_users)),
      worker_({settings_.users_table, settings_.verify_timeout, settings_.retry_timed_out_after},
              std::move(on_verified)) {}

BackupCollector::Seen BackupCollector::Look(const Deadline& deadline) {
  Seen seen;
  BackupFacts& facts = seen.facts;
  facts.max_age = settings_.max_age;
  facts.live_users = live_users_ ? live_users_->Get() : std::nullopt;
  Result<std::vector<BackupFile>> files = ScanBackupDir(settings_.dir, settings_.pattern, deadline);
  if (files) {
    seen.files = std::move(*files);
  } else {
    facts.dir_error = files.error();
  }
  const double now = UnixSeconds(std::chrono::system_clock::now());
  const double retention_seconds = std::chrono::duration<double>(settings_.retention).count();
  for (const auto& file : seen.files) {
    if (now - static_cast<double>(file.time) > retention_seconds) ++facts.retention_violations;
  }
  if (!seen.files.empty()) {
    facts.latest = seen.files.front();
    facts.latest_age_seconds = now - static_cast<double>(facts.latest->time);
    facts.verification = worker_.ResultFor(*facts.latest);
  }
  if (settings_.log_path) {
    const Result<std::string> tail = ReadLogTail(*settings_.log_path);
    if (tail) {
      seen.log = SummarizeBackupLog(*tail);
    } else {
      seen.log = BackupLogSummary{};
      seen.log_error = tail.error();
      facts.log_error = tail.error();
    }
  }
  return seen;
}

void BackupCollector::AddMetrics(const Seen& seen, CollectorResult& result) const {
  const BackupFacts& facts = seen.facts;
  auto gauge = [&result](const char* name, const char* help, double value) {
    result.families.push_back(SingleGauge(name, help, value));
  };
  gauge("caloria_backup_directory_readable",
        "Whether the backup folder (--backup.dir) could be read (1) or not (0).",
        facts.dir_error ? 0 : 1);
  if (!facts.dir_error) {
    double total_size = 0;
    for (const auto& file : seen.files) total_size += static_cast<double>(file.size);
    gauge("caloria_backup_files", "Backup files in --backup.dir matching --backup.pattern.",
          static_cast<double>(seen.files.size()));
    gauge("caloria_backup_total_size_bytes", "Total size of the backup files.", total_size);
    gauge("caloria_backup_retention_violations",
          "Backup files older than --backup.retention: the cleanup step is not working.",
          static_cast<double>(facts.retention_violations));
  }
  if (facts.latest) {
    gauge("caloria_backup_latest_timestamp_seconds",
          "When the latest backup was made (the timestamp in its name, else its mtime).",
          static_cast<double>(facts.latest->time));
    gauge("caloria_backup_latest_size_bytes", "Size of the latest backup file.",
          static_cast<double>(facts.latest->size));
    gauge("caloria_backup_oldest_timestamp_seconds", "When the oldest backup file kept was made.",
          static_cast<double>(seen.files.back().time));
    if (seen.files.size() > 1) {
      gauge("caloria_backup_previous_size_bytes", "Size of the backup before the latest one.",
            static_cast<double>(seen.files[1].size));
    }
    // A verification that ran out of time says nothing about the file: no
    // sample, rather than a 0 that would read as corrupt.
    if (facts.verification && !facts.verification->timed_out) {
      gauge("caloria_backup_latest_verified",
            "1 when the latest backup passed its integrity check, 0 when it failed; absent while "
            "its verification is pending.",
            facts.verification->verified ? 1 : 0);
      if (facts.verification->users) {
        gauge("caloria_backup_latest_users", "Rows of the users table in the latest backup.",
              static_cast<double>(*facts.verification->users));
      }
    }
  }
  if (seen.log && seen.log->last_success) {
    gauge("caloria_backup_log_last_success_timestamp_seconds",
          "When the backup script last logged a success.",
          static_cast<double>(*seen.log->last_success));
  }
  if (seen.log && seen.log->last_error) {
    gauge("caloria_backup_log_last_error_timestamp_seconds",
          "When the backup script last logged an error.",
          static_cast<double>(*seen.log->last_error));
  }
}

HealthCheck BackupCollector::BuildCheck(const Seen& seen, const BackupJudgement& judgement) const {
  const BackupFacts& facts = seen.facts;
  HealthCheck check;
  check.name = "backup";
  check.status = judgement.status;
  auto& details = check.details;
  details["status"] = HealthStatusName(judgement.status);
  details["timestamp"] = FormatIsoMicros(std::chrono::system_clock::now());
  details["directory"] = settings_.dir;
  details["pattern"] = settings_.pattern;
  details["files"] = seen.files.size();
  if (facts.latest) {
    const auto& latest = *facts.latest;
    const auto& verification = facts.verification;
    details["file"] = latest.name;
    details["created"] = FormatIsoMicros(std::chrono::system_clock::from_time_t(latest.time));
    details["age_seconds"] = static_cast<long long>(facts.latest_age_seconds);
    details["size_bytes"] = latest.size;
    const bool known = verification && !verification->timed_out;
    details["verified"] =
        known ? nlohmann::ordered_json(verification->verified) : nlohmann::ordered_json(nullptr);
    details["verification"] = VerificationState(verification);
    if (verification && !verification->verified) {
      details["verification_error"] = verification->error;
    }
    details["users"] = OrNull(verification ? verification->users : std::nullopt);
  } else {
    details["file"] = nullptr;
  }
  details["retention_violations"] = facts.retention_violations;
  if (seen.log) {
    details["log"] = *settings_.log_path;
    details["log_last_success"] = OrNull(IsoTime(seen.log->last_success));
    details["log_last_error"] = OrNull(IsoTime(seen.log->last_error));
    if (seen.log->last_error) details["log_last_error_message"] = seen.log->last_error_message;
  }
  if (!judgement.reasons.empty()) details["problems"] = judgement.reasons;
  return check;
}

CollectorResult BackupCollector::Collect(const Deadline& deadline) {
  const Seen seen = Look(deadline);
  CollectorResult result;
  AddMetrics(seen, result);
  result.checks.push_back(BuildCheck(seen, JudgeBackup(seen.facts)));
  if (seen.facts.dir_error) {
    result.error = *seen.facts.dir_error;
  } else if (seen.log_error) {
    result.error = *seen.log_error;
  } else if (auto failure = worker_.Failure()) {
    result.error = "the backup verification thread stopped (" + *failure +
                   "): restart the exporter and report this";
  }
  return result;
}

LogFields BackupCollector::Settings() const {
  LogFields fields{{"backup_dir", settings_.dir},
                   {"backup_pattern", settings_.pattern},
                   {"backup_max_age", FormatDuration(settings_.max_age)},
                   {"backup_retention", FormatDuration(settings_.retention)},
                   {"backup_verify_timeout", FormatDuration(settings_.verify_timeout)}};
  if (settings_.log_path) fields.emplace_back("backup_log", *settings_.log_path);
  return fields;
}

CollectorSpec BackupCollectorSpec() {
  CollectorSpec spec;
  spec.name = "backup";
  spec.title = "Backup collector";
  spec.help = "Watch the backup folder: the latest backup's age, size and integrity, retention";
  spec.flags = BackupFlags();
  // It compares a backup's users with the live count of the same poll.
  spec.runs_after = {"database"};
  spec.check_flags = [](const FlagValues& flags) -> Status {
    if (Result<BackupSettings> settings = BackupSettingsFromFlags(flags); !settings) {
      return Fail(settings.error());
    }
    return {};
  };
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    Result<BackupSettings> settings = BackupSettingsFromFlags(context.config.flags);
    if (!settings) return Fail(settings.error());
    return std::unique_ptr<Collector>(std::make_unique<BackupCollector>(
        std::move(*settings), context.shared.live_users, context.request_poll));
  };
  return spec;
}

}  // namespace caloria
