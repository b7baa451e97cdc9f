#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "core/duration.h"
#include "core/logger.h"
#include "poll/snapshot.h"
#include "poll/target_poll.h"

namespace caloria {

struct PollerSettings {
  Duration interval = std::chrono::seconds(15);
  Duration timeout = std::chrono::seconds(5);  // each collector run's deadline
  int max_parallel = 1;                        // targets polled at the same time
};

using TargetList = std::vector<std::shared_ptr<TargetPoll>>;

// Polls every target in the background, each every interval, and hands the
// latest snapshots on to `publish` (the exporter renders the pages there)
// whenever a target's poll ends. Unlike node_exporter, nothing runs at
// scrape time: the sources (a database, a large backup) may hang, and
// scrapes must not.
//
// The load on the databases stays bounded: a target's collectors run one
// after the other (one connection per target at a time), at most
// max_parallel targets run at once, and the targets' polls are spread over
// the interval by a hash of their names rather than all started together. A
// target that hangs past its deadlines holds one of the max_parallel slots
// and delays no other target while a slot is free.
class Poller {
 public:
  // Receives the latest snapshots, from one thread at a time. The poller
  // knows nothing of pages or HTTP: data flows on, never back.
  using SnapshotSink = std::function<void(const FleetSnapshot&)>;
  // The targets to poll, asked at every round: the exporter builds new
  // collectors for a target whose configuration a reload changed.
  using TargetSource = std::function<TargetList()>;

  Poller(PollerSettings settings, BuildInfo build, TargetSource targets, SnapshotSink publish,
         Logger& logger);
  // Stops and joins the threads and lets go of the targets.
  ~Poller();
  Poller(const Poller&) = delete;
  Poller& operator=(const Poller&) = delete;

  // Polls every target once (max_parallel at a time) and publishes, on the
  // caller's thread; the exporter runs it before it listens, so the first
  // scrape already sees data.
  void PollOnce();
  void Start();
  // Joins every thread; a target that is still polling is waited for (its
  // collectors' deadlines bound the wait), then every target is let go.
  void Stop();
  // Asks for a poll of every target now rather than at its next tick, e.g.
  // when a collector's background work (a backup verification) has
  // finished or the configuration was reloaded. Safe from any thread.
  void RequestPoll();
  // The same for one target: its backup verification has finished.
  void RequestPoll(const std::string& target);

 private:
  struct TargetState {
    std::shared_ptr<TargetPoll> poll;
    std::chrono::steady_clock::time_point next_due;
    bool requested = false;  // by RequestPoll or a reload: at once, off the schedule
  };

  void Schedule();
  void Work();
  void HandOver(const std::string& name);
  TargetList ListTargets();
  // Returns the states it replaced, for the caller to drop without the lock.
  std::map<std::string, TargetState> Refresh(const TargetList& list,
                                             std::chrono::steady_clock::time_point now,
                                             bool at_start);
  void Publish(const std::string& name, std::shared_ptr<const Snapshot> snapshot);
  Duration SpreadOffset(const std::string& name) const;

  PollerSettings settings_;
  BuildInfo build_;
  TargetSource targets_;
  SnapshotSink publish_;
  Logger& logger_;

  std::mutex mutex_;
  std::condition_variable wake_;    // the scheduler: a request, a finished poll, a stop
  std::condition_variable work_;    // the workers: a target is due
  std::vector<std::string> order_;  // the target list's names, in its order
  std::map<std::string, TargetState> states_;
  std::vector<std::string> due_;   // names handed to the workers, oldest first
  std::set<std::string> running_;  // names handed to the workers and not finished
  std::map<std::string, std::shared_ptr<const Snapshot>> latest_;
  bool stopping_ = false;
  bool poll_requested_ = false;
  std::set<std::string> targets_requested_;
  bool finished_ = false;     // a worker finished a poll since the scheduler last looked
  std::mutex publish_mutex_;  // one publish at a time, in order
  std::thread scheduler_;
  std::vector<std::thread> workers_;  // started by HandOver, up to max_parallel
  int idle_workers_ = 0;              // started and waiting for a target
};

}  // namespace caloria
