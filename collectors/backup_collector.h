#pragma once

#include <atomic>
#include <condition_variable>
#include <ctime>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collectors/backup_verifier.h"
#include "collectors/collector.h"
#include "collectors/live_user_count.h"
#include "exporter/config.h"
#include "exporter/duration.h"

namespace caloria {

// One backup file as the folder scan saw it.
struct BackupFile {
  std::string path;
  std::string name;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
  std::time_t time = 0;  // from the name when it has a timestamp, else mtime
};

// Scans the backup folder, finds the latest backup and has it verified
// (gzip CRC and length, pg_dump completeness, users rows; or SQLite
// quick_check) on a worker thread of its own, so a 1 GB file never holds up
// a poll: until the result is in, the latest backup's verification is
// "pending". Each file is verified once, keyed by (path, size, mtime).
class BackupCollector : public Collector {
 public:
  // `on_verified` (may be empty) is called from the worker thread when a
  // verification has finished, so the result need not wait for the next
  // poll: the exporter passes Poller::RequestPoll.
  BackupCollector(BackupSettings settings, std::shared_ptr<const LiveUserCount> live_users,
                  std::function<void()> on_verified = {});
  ~BackupCollector() override;

  std::string Name() const override { return "backup"; }
  CollectorResult Collect(const Deadline& deadline) override;

 private:
  struct CacheKey {
    std::string path;
    std::uint64_t size;
    std::time_t mtime;
    bool operator==(const CacheKey& other) const {
      return path == other.path && size == other.size && mtime == other.mtime;
    }
  };
  std::optional<BackupVerification> Verification(const BackupFile& file);
  void WorkerLoop();

  BackupSettings settings_;
  std::shared_ptr<const LiveUserCount> live_users_;
  std::function<void()> on_verified_;

  std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<CacheKey> queued_;       // next file to verify
  std::optional<CacheKey> in_progress_;  // the file being verified now
  struct CachedVerification {
    CacheKey key;
    BackupVerification result;
    std::chrono::steady_clock::time_point finished;
  };
  std::vector<CachedVerification> cache_;
  std::atomic<bool> stopping_{false};
  std::thread worker_;
};

// Lists the files in `dir` whose names match the glob `pattern`, newest
// first (by name timestamp, else mtime). Throws std::runtime_error with a
// one-line reason when the folder cannot be read.
std::vector<BackupFile> ScanBackupDir(const std::string& dir, const std::string& pattern,
                                      const Deadline& deadline);

}  // namespace caloria

namespace caloria {

// Everything the backup check's status depends on, gathered by Collect().
struct BackupFacts {
  std::optional<std::string> dir_error;  // set when the folder cannot be read
  std::optional<BackupFile> latest;
  double latest_age_seconds = 0;
  std::optional<BackupVerification> verification;  // nullopt while pending
  std::size_t retention_violations = 0;
  std::optional<double> live_users;
  Duration max_age = std::chrono::hours(26);
};

struct BackupJudgement {
  HealthStatus status = HealthStatus::kHealthy;
  std::vector<std::string> reasons;  // one per finding, each with its fix
};

// Unhealthy: no folder, no backup, too old, or corrupt. Degraded: retention
// violated, a backup holding no users or fewer than half the live users,
// a verification that ran out of time. A pending verification does not
// change the status by itself.
BackupJudgement JudgeBackup(const BackupFacts& facts);

}  // namespace caloria
