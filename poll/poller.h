#pragma once

#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <thread>

#include "collectors/collector.h"
#include "core/duration.h"
#include "core/logger.h"
#include "poll/snapshot.h"

namespace caloria {

// Runs every collector in the background, one after the other, each under
// its own deadline, then assembles a snapshot and hands it to `publish`
// (the exporter renders the pages there, once per poll). Unlike node_exporter, nothing runs at
// scrape time: the sources (a database, a large backup) may hang, and scrapes must not.
class Poller {
 public:
  // Receives every snapshot, on the polling thread. The poller knows
  // nothing of pages or HTTP: data flows on, never back.
  using SnapshotSink = std::function<void(const Snapshot&)>;

  Poller(Duration interval, Duration timeout, BuildInfo build, SnapshotSink publish,
         Logger& logger);
  // Stops and joins the thread, then destroys the collectors while the
  // poller is still whole: a collector's own thread may call RequestPoll().
  ~Poller();

  // Adds a collector; only before PollOnce() or Start().
  void Add(std::unique_ptr<Collector> collector);

  // One poll on the caller's thread; the exporter runs it before it listens,
  // so the first scrape already sees data.
  void PollOnce();
  void Start();
  void Stop();
  // Asks for a poll now rather than at the next tick, e.g. when a
  // collector's background work (a backup verification) has finished.
  // Safe from any thread.
  void RequestPoll();

 private:
  CollectorOutcome RunCollector(Collector& collector);
  void LogTransition(const CollectorRun& run);

  CollectorList collectors_;
  Duration interval_;
  Duration timeout_;
  BuildInfo build_;
  SnapshotSink publish_;
  Logger& logger_;
  std::map<std::string, CollectorRun> last_runs_;

  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;
  bool poll_requested_ = false;
  std::thread thread_;
};

}  // namespace caloria
