#pragma once

#include <string>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "core/duration.h"

namespace caloria {

struct RestoreTestSettings {
  std::string state_file;                         // --restore.state-file, absolute
  Duration max_age = std::chrono::hours(24 * 8);  // --restore.max-age
};

// Reads the state file scripts/caloria-restore-test writes after each run
// (collectors/restore/restore_state.h) and publishes when the latest backup
// was last proven to restore, what the restored copy held and how the last
// run went. It never restores anything itself: a restore takes minutes and
// a scratch database, which a poll must not.
class RestoreTestCollector : public Collector {
 public:
  explicit RestoreTestCollector(RestoreTestSettings settings);

  std::string Name() const override { return "restore_test"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  RestoreTestSettings settings_;
};

// --[no-]collector.restore_test, --restore.state-file and --restore.max-age.
// Without --restore.state-file there is nothing to read and the collector is
// left out.
CollectorSpec RestoreTestCollectorSpec();

}  // namespace caloria
