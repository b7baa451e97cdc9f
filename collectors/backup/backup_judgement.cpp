#include "collectors/backup/backup_judgement.h"

#include <algorithm>
#include <chrono>

namespace caloria {
namespace {

// Below this share of the live users, a backup has lost data.
constexpr double kUsersShareWarning = 0.5;

std::string HumanAge(double seconds) {
  return FormatDuration(std::chrono::seconds(static_cast<long long>(seconds)));
}

}  // namespace

BackupJudgement JudgeBackup(const BackupFacts& facts) {
  BackupJudgement judgement;
  const auto flag = [&](HealthStatus status, std::string reason) {
    judgement.status = std::max(judgement.status, status);
    judgement.reasons.push_back(std::move(reason));
  };
  if (facts.dir_error) {
    flag(HealthStatus::kUnhealthy, *facts.dir_error);
    return judgement;
  }
  if (!facts.latest) {
    flag(HealthStatus::kUnhealthy,
         "no backup found: check that the backup job runs (cron) and --backup.pattern");
    return judgement;
  }
  const double max_age = std::chrono::duration<double>(facts.max_age).count();
  if (facts.latest_age_seconds > max_age) {
    flag(HealthStatus::kUnhealthy,
         "the latest backup is " + HumanAge(facts.latest_age_seconds) +
             " old, more than --backup.max-age=" + FormatDuration(facts.max_age) +
             ": check the backup job and its log");
  }
  if (facts.verification && facts.verification->timed_out) {
    flag(HealthStatus::kDegraded, "verifying the latest backup " + facts.latest->name +
                                      " did not finish within --backup.verify-timeout: raise it, "
                                      "or check why reading the disk is so slow");
  } else if (facts.verification && !facts.verification->verified) {
    flag(HealthStatus::kUnhealthy, "the latest backup " + facts.latest->name +
                                       " failed verification (" + facts.verification->error +
                                       "): run the backup again and check the disk");
  }
  if (facts.retention_violations > 0) {
    flag(HealthStatus::kDegraded, std::to_string(facts.retention_violations) +
                                      " backup(s) older than the retention: check the backup "
                                      "script's cleanup step");
  }
  // Degraded, not unhealthy: the backups themselves may be fine, but what the
  // job last logged is unknown. Before this, the log's error showed only as
  // a failed collector run, with no reason on /health/backup (issue 10).
  if (facts.log_error) flag(HealthStatus::kDegraded, *facts.log_error);
  if (facts.verification && facts.verification->verified) {
    const auto users = facts.verification->users;
    if (!users) {
      flag(HealthStatus::kDegraded,
           "the latest backup has no users table: check that pg_dump "
           "dumps the app's database with its data");
    } else if (*users == 0 && (!facts.live_users || *facts.live_users > 0)) {
      flag(HealthStatus::kDegraded, "the latest backup holds no users");
    } else if (facts.live_users &&
               static_cast<double>(*users) <
                   kUsersShareWarning * static_cast<double>(*facts.live_users)) {
      flag(HealthStatus::kDegraded,
           "the latest backup holds " + std::to_string(*users) + " users, far fewer than the " +
               std::to_string(static_cast<long long>(*facts.live_users)) +
               " in the live database: check that the backup dumps the right database");
    }
  }
  return judgement;
}

}  // namespace caloria
