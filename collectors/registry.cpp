#include "collectors/registry.h"

#include <algorithm>
#include <set>
#include <stdexcept>

namespace caloria {
namespace {

std::string SwitchName(const CollectorSpec& spec) { return "collector." + spec.name; }

// Depth-first: a spec goes after everything it runs after; otherwise the
// given order stands.
void Place(const CollectorSpec& spec, const std::vector<CollectorSpec>& all,
           std::set<std::string>& placed, std::set<std::string>& visiting,
           std::vector<CollectorSpec>& ordered) {
  if (placed.count(spec.name)) return;
  if (!visiting.insert(spec.name).second) {
    throw std::logic_error("collector " + spec.name + " is part of a runs_after cycle");
  }
  for (const auto& before : spec.runs_after) {
    const auto it = std::find_if(all.begin(), all.end(),
                                 [&](const CollectorSpec& other) { return other.name == before; });
    if (it == all.end()) {
      throw std::logic_error("collector " + spec.name + " runs after unknown collector " + before);
    }
    Place(*it, all, placed, visiting, ordered);
  }
  visiting.erase(spec.name);
  placed.insert(spec.name);
  ordered.push_back(spec);
}

}  // namespace

CollectorRegistry::CollectorRegistry(const std::vector<CollectorSpec>& specs) {
  std::set<std::string> names;
  for (const auto& spec : specs) {
    if (spec.name.empty() || !spec.make) {
      throw std::logic_error("a collector spec needs a name and a factory");
    }
    if (!names.insert(spec.name).second) {
      throw std::logic_error("collector " + spec.name + " is registered twice");
    }
  }
  std::set<std::string> placed;
  std::set<std::string> visiting;
  for (const auto& spec : specs) Place(spec, specs, placed, visiting, specs_);
}

std::vector<FlagGroup> CollectorRegistry::FlagGroups() const {
  std::vector<FlagGroup> groups;
  for (const auto& spec : specs_) {
    groups.push_back(
        {spec.title, SwitchSpec{SwitchName(spec), spec.help, spec.enabled_by_default}, spec.flags});
  }
  return groups;
}

Status CollectorRegistry::CheckFlags(const FlagValues& flags) const {
  for (const auto& spec : specs_) {
    if (!spec.check_flags) continue;
    if (Status checked = spec.check_flags(flags); !checked) return checked;
  }
  return {};
}

Result<CollectorList> CollectorRegistry::Build(const CollectorContext& context) const {
  if (Status checked = CheckFlags(context.config.flags); !checked) return Fail(checked.error());
  CollectorList collectors;
  for (const auto& spec : specs_) {
    if (!context.config.flags.Switch(SwitchName(spec), spec.enabled_by_default)) continue;
    Result<std::unique_ptr<Collector>> collector = spec.make(context);
    if (!collector) return Fail(collector.error());
    if (*collector) collectors.push_back(std::move(*collector));
  }
  return collectors;
}

}  // namespace caloria
