#include "collectors/backup/verification_worker.h"

#include "core/deadline.h"
#include "core/thread_guard.h"

namespace caloria {
namespace {

// Only the latest file's result is ever asked for again; a short list keeps
// the one before it in case the newest disappears.
constexpr std::size_t kCachedResults = 4;

}  // namespace

VerificationWorker::VerificationWorker(Settings settings, std::function<void()> on_verified)
    : settings_(std::move(settings)), on_verified_(std::move(on_verified)) {
  thread_ = std::thread([this] {
    // The thread's guard: a bug here must not terminate the exporter. The
    // collector reports the failure (Failure()) at every poll instead.
    if (auto error = CatchAll([this] { Loop(); })) {
      std::lock_guard<std::mutex> lock(mutex_);
      failure_ = *error;
    }
  });
}

VerificationWorker::~VerificationWorker() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::optional<std::string> VerificationWorker::Failure() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failure_;
}

BackupVerification VerificationWorker::Verify(const Key& key) {
  // A Deadline of its own: verification is allowed far longer than a poll
  // because nobody waits for it; shutdown cancels it.
  const Deadline deadline = Deadline::After(settings_.verify_timeout).CancelledBy(stopping_);
  BackupVerification result;
  if (auto error =
          CatchAll([&] { result = VerifyBackupFile(key.path, settings_.users_table, deadline); })) {
    result = BackupVerification{};
    result.error = "internal error in caloria_exporter's verifier (" + *error +
                   "): the file may be fine; please report this";
  }
  return result;
}

void VerificationWorker::Loop() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    wake_.wait(lock, [this] { return stopping_ || queued_; });
    if (stopping_) return;
    const Key key = *queued_;
    queued_.reset();
    in_progress_ = key;
    lock.unlock();
    BackupVerification result = Verify(key);
    lock.lock();
    in_progress_.reset();
    if (stopping_) return;
    cache_.push_back({key, std::move(result), std::chrono::steady_clock::now()});
    if (cache_.size() > kCachedResults) cache_.erase(cache_.begin());
    if (on_verified_) {
      lock.unlock();
      on_verified_();
      lock.lock();
    }
  }
}

std::optional<BackupVerification> VerificationWorker::ResultFor(const BackupFile& file) {
  const Key key{file.path, file.size, file.mtime, file.ctime_ns};
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

}  // namespace caloria
