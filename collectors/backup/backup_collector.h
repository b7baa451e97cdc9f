#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/backup/backup_judgement.h"
#include "collectors/backup/backup_log.h"
#include "collectors/backup/backup_scan.h"
#include "collectors/backup/backup_settings.h"
#include "collectors/backup/verification_worker.h"
#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"

namespace caloria {

// Watches the backup folder: finds the latest backup, has it verified (gzip
// CRC and length, pg_dump completeness, users rows; or SQLite quick_check)
// by a VerificationWorker, reads the backup script's log, and judges it all
// into the backup check. Until a verification is in, the latest backup is
// "pending".
class BackupCollector : public Collector {
 public:
  // `on_verified` (may be empty) is called from the worker thread when a
  // verification has finished: the exporter passes Poller::RequestPoll.
  BackupCollector(BackupSettings settings, std::shared_ptr<const LiveUserCount> live_users,
                  std::function<void()> on_verified = {});

  std::string Name() const override { return "backup"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  // What one poll saw of the folder and the log.
  struct Seen {
    std::vector<BackupFile> files;
    BackupFacts facts;
    std::optional<BackupLogSummary> log;
    std::optional<std::string> log_error;
  };
  Seen Look(const Deadline& deadline);
  void AddMetrics(const Seen& seen, CollectorResult& result) const;
  HealthCheck BuildCheck(const Seen& seen, const BackupJudgement& judgement) const;

  BackupSettings settings_;
  std::shared_ptr<const LiveUserCount> live_users_;
  VerificationWorker worker_;
};

// --[no-]collector.backup and the --backup.* flags.
CollectorSpec BackupCollectorSpec();

}  // namespace caloria
