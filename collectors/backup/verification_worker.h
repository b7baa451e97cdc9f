#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <ctime>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "collectors/backup/backup_scan.h"
#include "collectors/backup/backup_verifier.h"
#include "core/duration.h"

namespace caloria {

// Verifies backup files on a thread of its own, so a 1 GB file never holds
// up a poll, and remembers each result by (path, size, mtime, ctime): a
// file is read once, not at every poll, and again whenever it changes in any
// way, chmod included (a file that could not be opened is not cached as
// failed forever). A verification that ran out of time is retried after
// `retry_timed_out_after`.
class VerificationWorker {
 public:
  struct Settings {
    std::string users_table = "users";
    Duration verify_timeout = std::chrono::minutes(10);
    Duration retry_timed_out_after = std::chrono::hours(1);
  };

  // `on_verified` (may be empty) is called from the worker thread whenever a
  // verification has finished, so its result need not wait for the next poll.
  VerificationWorker(Settings settings, std::function<void()> on_verified);
  // Cancels a verification in progress and joins the thread.
  ~VerificationWorker();
  VerificationWorker(const VerificationWorker&) = delete;
  VerificationWorker& operator=(const VerificationWorker&) = delete;

  // The file's verification if it is done; otherwise queues it (unless it is
  // already queued or running) and returns nullopt: "pending".
  std::optional<BackupVerification> ResultFor(const BackupFile& file);

  // Why the worker thread stopped, if a bug stopped it; nullopt while it runs.
  std::optional<std::string> Failure() const;

 private:
  struct Key {
    std::string path;
    std::uint64_t size;
    std::time_t mtime;
    std::int64_t ctime_ns;
    bool operator==(const Key& other) const {
      return path == other.path && size == other.size && mtime == other.mtime &&
             ctime_ns == other.ctime_ns;
    }
  };
  struct Cached {
    Key key;
    BackupVerification result;
    std::chrono::steady_clock::time_point finished;
  };

  void Loop();
  BackupVerification Verify(const Key& key);

  Settings settings_;
  std::function<void()> on_verified_;

  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::optional<Key> queued_;       // next file to verify
  std::optional<Key> in_progress_;  // the file being verified now
  std::vector<Cached> cache_;
  std::optional<std::string> failure_;
  std::atomic<bool> stopping_{false};
  std::thread thread_;
};

}  // namespace caloria
