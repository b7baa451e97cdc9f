#pragma once

#include <map>
#include <memory>
#include <string>

#include "collectors/collector.h"
#include "core/duration.h"
#include "core/logger.h"
#include "poll/snapshot.h"

namespace caloria {

// One target's collectors and what the poller remembers of their runs. A
// poll runs them one after the other, each under its own deadline, so a
// target holds at most one database connection at a time; the Poller runs
// different targets in parallel.
class TargetPoll {
 public:
  // `name` is "" for the one target the flags describe (no target label).
  // `wiring` is what the collectors refer to (their configuration store,
  // the observations they share): kept alive until they are gone.
  TargetPoll(std::string name, CollectorList collectors, std::shared_ptr<void> wiring = nullptr);
  // Destroys the collectors in reverse order of their creation.
  ~TargetPoll();
  TargetPoll(const TargetPoll&) = delete;
  TargetPoll& operator=(const TargetPoll&) = delete;

  const std::string& name() const { return name_; }

  // Runs every collector once and assembles the snapshot. Not for two
  // threads at once: the Poller never runs a target twice in parallel.
  Snapshot Poll(Duration timeout, const BuildInfo& build, Logger& logger);

 private:
  CollectorOutcome RunCollector(Collector& collector, Duration timeout, Logger& logger);
  void LogTransition(const CollectorRun& run, Logger& logger) const;

  std::string name_;
  CollectorList collectors_;
  std::map<std::string, CollectorRun> last_runs_;
  std::shared_ptr<void>
      wiring_;  // declared before collectors_ would destroy it first: see ~TargetPoll
};

}  // namespace caloria
