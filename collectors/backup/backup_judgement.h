#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "collectors/backup/backup_scan.h"
#include "collectors/backup/backup_verifier.h"
#include "core/duration.h"
#include "core/problem.h"

namespace caloria {

// Everything the backup check's status depends on, gathered by one poll.
struct BackupFacts {
  std::optional<std::string> dir_error;  // set when the folder cannot be read
  std::optional<BackupFile> latest;
  double latest_age_seconds = 0;
  std::optional<BackupVerification> verification;  // nullopt while pending
  std::size_t retention_violations = 0;
  std::optional<double> live_users;
  Duration max_age = std::chrono::hours(26);
  // Set when --backup.log is given but cannot be read (rotated away and not
  // yet recreated, removed, unreadable): the job's outcome is then unknown.
  std::optional<std::string> log_error;
};

struct BackupJudgement {
  HealthStatus status = HealthStatus::kHealthy;
  std::vector<std::string> reasons;  // one per finding, each with its fix
};

// Unhealthy: no folder, no backup, too old, or corrupt. Degraded: retention
// violated, a backup holding no users or fewer than half the live users,
// a verification that ran out of time, a backup log that cannot be read. A
// pending verification does not change the status by itself.
BackupJudgement JudgeBackup(const BackupFacts& facts);

}  // namespace caloria
