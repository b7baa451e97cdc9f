#include "poll/poller.h"

#include <chrono>
#include <exception>
#include <memory>

#include "core/thread_guard.h"

namespace caloria {

Poller::Poller(Duration interval, Duration timeout, BuildInfo build, SnapshotSink publish,
               Logger& logger)
    : interval_(interval),
      timeout_(timeout),
      build_(std::move(build)),
      publish_(std::move(publish)),
      logger_(logger) {}

Poller::~Poller() {
  Stop();
  collectors_.clear();
}

void Poller::Add(std::unique_ptr<Collector> collector) {
  collectors_.push_back(std::move(collector));
}

void Poller::RequestPoll() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    poll_requested_ = true;
  }
  wake_.notify_all();
}

CollectorOutcome Poller::RunCollector(Collector& collector) {
  CollectorOutcome outcome;
  outcome.run.collector = collector.Name();
  const auto start = std::chrono::steady_clock::now();
  // A collector bug must cost one collector one run, never the daemon.
  if (auto thrown =
          CatchAll([&] { outcome.result = collector.Collect(Deadline::After(timeout_)); })) {
    outcome.result = CollectorResult{};
    outcome.result.error = "collector threw: " + *thrown;
  }
  outcome.run.duration_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  outcome.run.success = !outcome.result.error;
  outcome.run.error = outcome.result.error;
  const auto previous = last_runs_.find(outcome.run.collector);
  if (outcome.run.success) {
    outcome.run.last_success_unix = UnixSeconds(std::chrono::system_clock::now());
  } else if (previous != last_runs_.end()) {
    outcome.run.last_success_unix = previous->second.last_success_unix;
  }
  LogTransition(outcome.run);
  last_runs_[outcome.run.collector] = outcome.run;
  return outcome;
}

// Logs a failure when it starts or changes and a recovery when it ends, not
// at every poll: at 3 a.m. one line per event is readable, one per 15s is not.
void Poller::LogTransition(const CollectorRun& run) {
  const auto previous = last_runs_.find(run.collector);
  const bool first = previous == last_runs_.end();
  if (!run.success && (first || previous->second.error != run.error)) {
    logger_.Error("collector failed", {{"collector", run.collector}, {"err", *run.error}});
  } else if (run.success && !first && !previous->second.success) {
    logger_.Info("collector recovered", {{"collector", run.collector}});
  } else {
    logger_.Debug("collector ran", {{"collector", run.collector},
                                    {"duration_seconds", std::to_string(run.duration_seconds)}});
  }
}

void Poller::PollOnce() {
  std::vector<CollectorOutcome> outcomes;
  outcomes.reserve(collectors_.size());
  for (auto& collector : collectors_) outcomes.push_back(RunCollector(*collector));
  const Snapshot snapshot = AssembleSnapshot(outcomes, build_, std::chrono::system_clock::now());
  publish_(snapshot);
}

void Poller::Start() {
  thread_ = std::thread([this] {
    auto next = std::chrono::steady_clock::now() + interval_;
    std::unique_lock<std::mutex> lock(mutex_);
    while (true) {
      wake_.wait_until(lock, next, [this] { return stopping_ || poll_requested_; });
      if (stopping_) break;
      const bool requested = poll_requested_;
      poll_requested_ = false;
      lock.unlock();
      // The thread's guard: a poll that fails past every collector's own
      // guard (rendering, say) is logged; the pages it did not replace go
      // stale and answer 503, and the next tick tries again.
      RunGuarded(logger_, "poll", [this] { PollOnce(); });
      lock.lock();
      // A requested poll does not move the schedule.
      if (requested && std::chrono::steady_clock::now() < next) continue;
      // Fixed-rate schedule; after an overrun, start again from now rather
      // than running back to back to catch up.
      next += interval_;
      const auto now = std::chrono::steady_clock::now();
      if (next < now) next = now + interval_;
    }
  });
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

}  // namespace caloria
