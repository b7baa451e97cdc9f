#pragma once

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "collectors/registry.h"
#include "config/config.h"
#include "config/config_reloader.h"
#include "config/config_store.h"
#include "core/logger.h"
#include "core/result.h"
#include "poll/poller.h"

namespace caloria {

// Keeps one TargetPoll, with its own collectors, configuration store and
// shared observations, per target of the configuration in force: the one
// target the flags describe, or each target of --config.file. After a
// reload a new target gets collectors, a removed one loses them, a target
// whose settings changed gets new ones, and the others keep theirs (and
// what they remember) and read the new configuration at their next run.
class Fleet {
 public:
  struct Wiring {
    const CollectorRegistry& registry;
    const ConfigStore& store;  // the whole configuration, as reloads publish it
    ConfigReloader* reloader;  // null where nothing reloads (tests)
    // Asks for a poll of one target (Poller::RequestPoll(name)).
    std::function<void(const std::string&)> request_poll;
    Logger& logger;
  };
  explicit Fleet(Wiring wiring) : wiring_(std::move(wiring)) {}

  // Builds the targets of the configuration in force; at startup an Error
  // is a usage error (exit 2). Logs nothing, so that a usage error is the
  // only line a failed start prints.
  Status Build();

  // Logs each target's collectors and their settings ("collector enabled"),
  // once the start is sure; after a reload the fleet logs them itself.
  void LogCollectors();

  // The targets to poll, first brought in line with the configuration in
  // force (Poller::TargetSource). A target whose collectors cannot be built
  // after a reload keeps its old ones, and the failure is logged.
  TargetList Targets();

 private:
  struct Member {
    FlagValues flags;
    std::shared_ptr<ConfigStore> store;
    std::shared_ptr<TargetPoll> poll;
    std::vector<LogFields> enabled;  // one "collector enabled" line per collector
  };

  Status Sync(const std::shared_ptr<const Config>& config);
  Result<Member> BuildMember(const Config& global, const Target& target);

  Wiring wiring_;
  std::mutex mutex_;
  std::shared_ptr<const Config> synced_;  // the configuration the members follow
  std::map<std::string, Member> members_;
  TargetList order_;
};

}  // namespace caloria
