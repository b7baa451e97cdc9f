#include "collectors/backup_collector.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <stdexcept>

#include "collectors/backup_file_name.h"
#include "collectors/backup_log.h"
#include "collectors/unique_handles.h"
#include "exporter/clock.h"

namespace caloria {
namespace {

// Only the end of the script's log matters; a log nobody rotates must not
// make every poll read megabytes.
constexpr std::streamoff kLogTailBytes = 1024 * 1024;

// Below this share of the live users, a backup has lost data.
constexpr double kUsersShareWarning = 0.5;

std::string ReadLogTail(const std::string& path, std::string& error) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    error = "cannot read the backup log " + path + ": check --backup.log and its permissions";
    return "";
  }
  const std::streamoff size = in.tellg();
  const std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  // A tail that starts mid-line would misread its first line: drop it.
  if (start > 0) text.erase(0, text.find('\n') + 1);
  return text;
}

std::optional<std::string> IsoTime(const std::optional<std::time_t>& time) {
  if (!time) return std::nullopt;
  return FormatIsoMicros(std::chrono::system_clock::from_time_t(*time));
}

std::string HumanAge(double seconds) {
  return FormatDuration(std::chrono::seconds(static_cast<long long>(seconds)));
}

}  // namespace

std::vector<BackupFile> ScanBackupDir(const std::string& dir, const std::string& pattern,
                                      const Deadline& deadline) {
  UniqueDir handle(opendir(dir.c_str()));
  if (!handle) {
    throw std::runtime_error("cannot read the backup folder " + dir + " (" + std::strerror(errno) +
                             "): check --backup.dir and that the exporter's user may read it");
  }
  std::vector<BackupFile> files;
  while (const dirent* entry = readdir(handle.get())) {
    if (deadline.Expired()) {
      throw std::runtime_error("scanning the backup folder " + dir +
                               " did not finish within --collector.timeout");
    }
    const std::string name = entry->d_name;
    if (fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
    BackupFile file;
    file.name = name;
    file.path = dir + (dir.empty() || dir.back() == '/' ? "" : "/") + name;
    struct stat info {};
    if (stat(file.path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    file.size = static_cast<std::uint64_t>(info.st_size);
    file.mtime = info.st_mtime;
    file.time = TimestampFromFileName(name).value_or(info.st_mtime);
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(), [](const BackupFile& a, const BackupFile& b) {
    return a.time != b.time ? a.time > b.time : a.name > b.name;
  });
  return files;
}

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
  if (facts.verification && facts.verification->verified) {
    const auto users = facts.verification->users;
    if (!users) {
      flag(HealthStatus::kDegraded,
           "the latest backup has no users table: check that pg_dump "
           "dumps the app's database with its data");
    } else if (*users == 0 && (!facts.live_users || *facts.live_users > 0)) {
      flag(HealthStatus::kDegraded, "the latest backup holds no users");
    } else if (facts.live_users && *users < kUsersShareWarning * *facts.live_users) {
      flag(HealthStatus::kDegraded,
           "the latest backup holds " + std::to_string(*users) + " users, far fewer than the " +
               std::to_string(static_cast<long long>(*facts.live_users)) +
               " in the live database: check that the backup dumps the right database");
    }
  }
  return judgement;
}

BackupCollector::BackupCollector(BackupSettings settings,
                                 std::shared_ptr<const LiveUserCount> live_users,
                                 std::function<void()> on_verified)
    : settings_(std::move(settings)),
      live_users_(std::move(live_users)),
      on_verified_(std::move(on_verified)) {
  worker_ = std::thread([this] { WorkerLoop(); });
}

BackupCollector::~BackupCollector() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  worker_.join();
}

void BackupCollector::WorkerLoop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || queued_; });
    if (stopping_) return;
    const CacheKey key = *queued_;
    queued_.reset();
    in_progress_ = key;
    lock.unlock();
    // A Deadline of its own: verification is allowed far longer than a poll
    // because nobody waits for it; shutdown cancels it.
    BackupVerification result =
        VerifyBackupFile(key.path, settings_.users_table,
                         Deadline::After(settings_.verify_timeout).CancelledBy(stopping_));
    lock.lock();
    in_progress_.reset();
    if (stopping_) return;
    cache_.push_back({key, std::move(result), std::chrono::steady_clock::now()});
    // Only the latest file's result is ever asked for again; a short list
    // keeps the one before it in case the newest disappears.
    if (cache_.size() > 4) cache_.erase(cache_.begin());
    if (on_verified_) {
      lock.unlock();
      on_verified_();
      lock.lock();
    }
  }
}

std::optional<BackupVerification> BackupCollector::Verification(const BackupFile& file) {
  const CacheKey key{file.path, file.size, file.mtime};
  std::lock_guard<std::mutex> lock(mutex_);
  for (auto it = cache_.begin(); it != cache_.end(); ++it) {
    if (!(it->key == key)) continue;
    const bool retry = it->result.timed_out && std::chrono::steady_clock::now() - it->finished >=
                                                   settings_.retry_timed_out_after;
    if (!retry) return it->result;
    cache_.erase(it);
    break;
  }
  // Queue it unless it is already queued or being read: a poll that comes
  // during a long verification must not start a second one.
  const bool running = in_progress_ && *in_progress_ == key;
  if (!running && !(queued_ && *queued_ == key)) {
    queued_ = key;
    wake_.notify_one();
  }
  return std::nullopt;
}

CollectorResult BackupCollector::Collect(const Deadline& deadline) {
  CollectorResult result;
  BackupFacts facts;
  facts.max_age = settings_.max_age;
  facts.live_users = live_users_ ? live_users_->Get() : std::nullopt;
  const auto wall_now = std::chrono::system_clock::now();
  const double now = UnixSeconds(wall_now);
  std::vector<BackupFile> files;
  try {
    files = ScanBackupDir(settings_.dir, settings_.pattern, deadline);
  } catch (const std::runtime_error& error) {
    facts.dir_error = error.what();
  }
  result.families.push_back(
      SingleGauge("caloria_backup_directory_readable",
                  "Whether the backup folder (--backup.dir) could be read (1) or not (0).",
                  facts.dir_error ? 0 : 1));

  const double retention_seconds = std::chrono::duration<double>(settings_.retention).count();
  double total_size = 0;
  for (const auto& file : files) {
    total_size += static_cast<double>(file.size);
    if (now - static_cast<double>(file.time) > retention_seconds) ++facts.retention_violations;
  }
  if (!facts.dir_error) {
    result.families.push_back(SingleGauge("caloria_backup_files",
                                          "Backup files in --backup.dir matching --backup.pattern.",
                                          static_cast<double>(files.size())));
    result.families.push_back(SingleGauge("caloria_backup_total_size_bytes",
                                          "Total size of the backup files.", total_size));
    result.families.push_back(
        SingleGauge("caloria_backup_retention_violations",
                    "Backup files older than --backup.retention: the cleanup step is not working.",
                    static_cast<double>(facts.retention_violations)));
  }
  if (!files.empty()) {
    const BackupFile& latest = files.front();
    facts.latest = latest;
    facts.latest_age_seconds = now - static_cast<double>(latest.time);
    facts.verification = Verification(latest);
    result.families.push_back(
        SingleGauge("caloria_backup_latest_timestamp_seconds",
                    "When the latest backup was made (the timestamp in its name, else its mtime).",
                    static_cast<double>(latest.time)));
    result.families.push_back(SingleGauge("caloria_backup_latest_size_bytes",
                                          "Size of the latest backup file.",
                                          static_cast<double>(latest.size)));
    result.families.push_back(SingleGauge("caloria_backup_oldest_timestamp_seconds",
                                          "When the oldest backup file kept was made.",
                                          static_cast<double>(files.back().time)));
    if (files.size() > 1) {
      result.families.push_back(SingleGauge("caloria_backup_previous_size_bytes",
                                            "Size of the backup before the latest one.",
                                            static_cast<double>(files[1].size)));
    }
    // A verification that ran out of time says nothing about the file: no
    // sample, rather than a 0 that would read as corrupt.
    if (facts.verification && !facts.verification->timed_out) {
      result.families.push_back(SingleGauge(
          "caloria_backup_latest_verified",
          "1 when the latest backup passed its integrity check, 0 when it failed; absent while "
          "its verification is pending.",
          facts.verification->verified ? 1 : 0));
      if (facts.verification->users) {
        result.families.push_back(SingleGauge("caloria_backup_latest_users",
                                              "Rows of the users table in the latest backup.",
                                              static_cast<double>(*facts.verification->users)));
      }
    }
  }

  BackupLogSummary log;
  std::string log_error;
  if (settings_.log_path) {
    log = SummarizeBackupLog(ReadLogTail(*settings_.log_path, log_error));
    if (log.last_success) {
      result.families.push_back(SingleGauge("caloria_backup_log_last_success_timestamp_seconds",
                                            "When the backup script last logged a success.",
                                            static_cast<double>(*log.last_success)));
    }
    if (log.last_error) {
      result.families.push_back(SingleGauge("caloria_backup_log_last_error_timestamp_seconds",
                                            "When the backup script last logged an error.",
                                            static_cast<double>(*log.last_error)));
    }
  }

  const BackupJudgement judgement = JudgeBackup(facts);
  HealthCheck check;
  check.name = "backup";
  check.status = judgement.status;
  auto& details = check.details;
  details["status"] = HealthStatusName(judgement.status);
  details["timestamp"] = FormatIsoMicros(wall_now);
  details["directory"] = settings_.dir;
  details["pattern"] = settings_.pattern;
  details["files"] = files.size();
  if (facts.latest) {
    const auto& latest = *facts.latest;
    details["file"] = latest.name;
    details["created"] = FormatIsoMicros(std::chrono::system_clock::from_time_t(latest.time));
    details["age_seconds"] = static_cast<long long>(facts.latest_age_seconds);
    details["size_bytes"] = latest.size;
    const bool known = facts.verification && !facts.verification->timed_out;
    details["verified"] = known ? nlohmann::ordered_json(facts.verification->verified)
                                : nlohmann::ordered_json(nullptr);
    details["verification"] = !facts.verification             ? "pending"
                              : facts.verification->timed_out ? "timed_out"
                              : facts.verification->verified  ? "passed"
                                                              : "failed";
    if (facts.verification && !facts.verification->verified) {
      details["verification_error"] = facts.verification->error;
    }
    details["users"] = OrNull(facts.verification ? facts.verification->users : std::nullopt);
  } else {
    details["file"] = nullptr;
  }
  details["retention_violations"] = facts.retention_violations;
  if (settings_.log_path) {
    details["log"] = *settings_.log_path;
    details["log_last_success"] = OrNull(IsoTime(log.last_success));
    details["log_last_error"] = OrNull(IsoTime(log.last_error));
    if (log.last_error) details["log_last_error_message"] = log.last_error_message;
  }
  if (!judgement.reasons.empty()) details["problems"] = judgement.reasons;
  result.checks.push_back(std::move(check));

  if (facts.dir_error) {
    result.error = *facts.dir_error;
  } else if (!log_error.empty()) {
    result.error = log_error;
  }
  return result;
}

}  // namespace caloria
