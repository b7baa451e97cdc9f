#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "collectors/collector.h"
#include "collectors/shared_observations.h"
#include "config/config.h"
#include "config/config_reloader.h"
#include "config/config_store.h"
#include "config/flags.h"
#include "core/result.h"

namespace caloria {

// What a collector's factory may use.
struct CollectorContext {
  // The configuration at startup: config.flags holds the collector's own
  // flags, which never change while the exporter runs.
  const Config& config;
  // The configuration in force, which a reload replaces: a collector that
  // needs the app's database location reads store.Latest() at every run.
  const ConfigStore& store;
  ConfigReloader* reloader;  // null where nothing reloads (tests)
  SharedObservations& shared;
  // Asks for a poll now: a collector's background work (a backup
  // verification) has finished. Poller::RequestPoll in the exporter.
  std::function<void()> request_poll;
};

// A collector as node_exporter's registerCollector declares one: its name,
// whether it runs by default, its flags and how to build it. The registry
// turns these into --[no-]collector.NAME, the flags, --help and the run order.
struct CollectorSpec {
  std::string name;   // the collector label, and --[no-]collector.NAME
  std::string title;  // the heading of its flags in --help, e.g. "Backup collector"
  std::string help;   // what the switch turns on, e.g. "Watch the backup folder"
  bool enabled_by_default = true;
  std::vector<FlagSpec> flags;
  // Collectors whose SharedObservations this one reads within a poll; it
  // runs after them. A listed collector that is switched off is simply absent.
  std::vector<std::string> runs_after;
  // Checks the collector's flags (may be empty). Run for every collector,
  // switched on or off, as kingpin checks every flag: a typo in a flag
  // waiting for --collector.NAME is found the day it is written, not the day
  // the collector is switched on. An Error makes the exporter exit 2.
  std::function<Status(const FlagValues&)> check_flags;
  // Reads the collector's flags from context.config.flags and builds it. A
  // null collector means there is nothing to watch with these flags (the app
  // probe without --app.health-url): it is left out, so no
  // caloria_exporter_collector_success reports a check that never ran.
  std::function<Result<std::unique_ptr<Collector>>(const CollectorContext&)> make;
};

class CollectorRegistry {
 public:
  // The specs are put in run order: each after those in its runs_after,
  // otherwise as given. A duplicate name, an unknown runs_after or a cycle is
  // a programming error (std::logic_error), found by the first test that
  // builds the registry.
  explicit CollectorRegistry(const std::vector<CollectorSpec>& specs);

  // In run order.
  const std::vector<CollectorSpec>& specs() const { return specs_; }

  // For --help and the command-line parser: one group per collector, its
  // --[no-]collector.NAME switch and its flags.
  std::vector<FlagGroup> FlagGroups() const;

  // Checks every collector's flags, switched on or off: a reload checks a
  // target's new settings with it before it takes them.
  Status CheckFlags(const FlagValues& flags) const;

  // Checks every collector's flags, then builds those switched on
  // (--collector.NAME / --no-collector.NAME, else their default), in run order.
  Result<CollectorList> Build(const CollectorContext& context) const;

 private:
  std::vector<CollectorSpec> specs_;
};

// Every collector this exporter has (collectors/builtin_collectors.cpp).
const CollectorRegistry& BuiltinCollectors();

}  // namespace caloria
