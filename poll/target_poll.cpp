#include "poll/target_poll.h"

#include <chrono>

#include "core/thread_guard.h"

namespace caloria {

TargetPoll::TargetPoll(std::string name, CollectorList collectors, std::shared_ptr<void> wiring)
    : name_(std::move(name)), collectors_(std::move(collectors)), wiring_(std::move(wiring)) {}

// The collectors go first, newest first (a later one may read an earlier
// one's state), then what they referred to.
TargetPoll::~TargetPoll() {
  while (!collectors_.empty()) collectors_.pop_back();
  wiring_.reset();
}

CollectorOutcome TargetPoll::RunCollector(Collector& collector, Duration timeout, Logger& logger) {
  CollectorOutcome outcome;
  outcome.run.collector = collector.Name();
  const auto start = std::chrono::steady_clock::now();
  // A collector bug must cost one collector one run, never the daemon.
  if (auto thrown =
          CatchAll([&] { outcome.result = collector.Collect(Deadline::After(timeout)); })) {
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
  LogTransition(outcome.run, logger);
  last_runs_[outcome.run.collector] = outcome.run;
  return outcome;
}

// Logs a failure when it starts or changes and a recovery when it ends, not
// at every poll: at 3 a.m. one line per event is readable, one per 15s is not.
void TargetPoll::LogTransition(const CollectorRun& run, Logger& logger) const {
  LogFields fields;
  if (!name_.empty()) fields.push_back({"target", name_});
  fields.push_back({"collector", run.collector});
  const auto previous = last_runs_.find(run.collector);
  const bool first = previous == last_runs_.end();
  if (!run.success && (first || previous->second.error != run.error)) {
    fields.push_back({"err", *run.error});
    logger.Error("collector failed", fields);
  } else if (run.success && !first && !previous->second.success) {
    logger.Info("collector recovered", fields);
  } else {
    fields.push_back({"duration_seconds", std::to_string(run.duration_seconds)});
    logger.Debug("collector ran", fields);
  }
}

Snapshot TargetPoll::Poll(Duration timeout, const BuildInfo& build, Logger& logger) {
  std::vector<CollectorOutcome> outcomes;
  outcomes.reserve(collectors_.size());
  for (auto& collector : collectors_) outcomes.push_back(RunCollector(*collector, timeout, logger));
  Snapshot snapshot = AssembleSnapshot(outcomes, build, std::chrono::system_clock::now());
  snapshot.target = name_;
  return snapshot;
}

}  // namespace caloria
