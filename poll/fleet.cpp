#include "poll/fleet.h"

#include "collectors/shared_observations.h"

namespace caloria {
namespace {

// What a target's collectors refer to, owned by its TargetPoll so that it
// outlives them.
struct TargetWiring {
  std::shared_ptr<const Config> startup;  // CollectorContext::config
  std::shared_ptr<ConfigStore> store;     // CollectorContext::store
  SharedObservations shared;
};

LogFields WithTarget(const std::string& target, LogFields fields) {
  if (!target.empty()) fields.insert(fields.begin(), {"target", target});
  return fields;
}

}  // namespace

Result<Fleet::Member> Fleet::BuildMember(const Config& global, const Target& target) {
  auto wiring = std::make_shared<TargetWiring>();
  wiring->startup = std::make_shared<const Config>(ConfigForTarget(global, target));
  wiring->store = std::make_shared<ConfigStore>(wiring->startup);
  Result<CollectorList> collectors =
      wiring_.registry.Build({*wiring->startup, *wiring->store, wiring_.reloader, wiring->shared,
                              [request = wiring_.request_poll, name = target.name] {
                                if (request) request(name);
                              }});
  if (!collectors) {
    if (target.name.empty()) return Fail(collectors.error());
    return Fail("target " + target.name + ": " + collectors.error());
  }
  Member member{target.flags, wiring->store, nullptr, {}};
  for (const auto& collector : *collectors) {
    LogFields fields{{"collector", collector->Name()}};
    for (auto& field : collector->Settings()) fields.push_back(std::move(field));
    member.enabled.push_back(WithTarget(target.name, std::move(fields)));
  }
  member.poll = std::make_shared<TargetPoll>(target.name, std::move(*collectors), wiring);
  return member;
}

Status Fleet::Sync(const std::shared_ptr<const Config>& config) {
  std::map<std::string, Member> members;
  TargetList order;
  // The settings every target shares, copied once: ConfigForTarget on the
  // whole configuration would copy every target's into each target's.
  Config shared = *config;
  shared.targets.clear();
  for (const Target& target : config->targets) {
    const auto known = members_.find(target.name);
    if (known != members_.end() && known->second.flags == target.flags) {
      // Same settings: the same collectors read the new configuration (a
      // changed env file, a rotated URL file) at their next run.
      known->second.store->Publish(std::make_shared<const Config>(ConfigForTarget(shared, target)));
      members[target.name] = known->second;
    } else {
      Result<Member> built = BuildMember(shared, target);
      if (!built) {
        if (!synced_) return Fail(built.error());
        wiring_.logger.Error("cannot rebuild a target's collectors, keeping its old ones",
                             {{"err", built.error()}});
        if (known == members_.end()) continue;
        members[target.name] = known->second;
      } else {
        if (synced_) {
          wiring_.logger.Info(known == members_.end() ? "target added" : "target changed",
                              WithTarget(target.name, {}));
          for (const LogFields& fields : built->enabled) {
            wiring_.logger.Info("collector enabled", fields);
          }
        }
        members[target.name] = std::move(*built);
      }
    }
    order.push_back(members[target.name].poll);
  }
  for (const auto& [name, member] : members_) {
    if (!members.count(name)) wiring_.logger.Info("target removed", WithTarget(name, {}));
  }
  members_ = std::move(members);
  order_ = std::move(order);
  synced_ = config;
  return {};
}

Status Fleet::Build() {
  std::lock_guard<std::mutex> lock(mutex_);
  return Sync(wiring_.store.Latest());
}

void Fleet::LogCollectors() {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const auto& poll : order_) {
    for (const LogFields& fields : members_.at(poll->name()).enabled) {
      wiring_.logger.Info("collector enabled", fields);
    }
  }
}

TargetList Fleet::Targets() {
  std::lock_guard<std::mutex> lock(mutex_);
  const std::shared_ptr<const Config> latest = wiring_.store.Latest();
  if (latest != synced_) static_cast<void>(Sync(latest));
  return order_;
}

}  // namespace caloria
