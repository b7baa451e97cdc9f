#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/duration.h"
#include "core/result.h"

namespace caloria {

// One flag, declared once by whoever owns its setting (the exporter's core
// settings here in config/, each collector beside its code): parsing, the
// unknown-flag check and --help all read these declarations.
struct FlagSpec {
  std::string name;        // without the leading --, e.g. "backup.dir"
  std::string value_name;  // the placeholder --help shows, e.g. "PATH"
  std::string help;        // one sentence with the default, e.g. "... (default 26h)."
};

// A switch written --NAME / --no-NAME, as node_exporter's --[no-]collector.NAME.
struct SwitchSpec {
  std::string name;  // e.g. "collector.backup"
  std::string help;
  bool default_on = true;
};

// The flags --help shows together: the exporter's own, or one collector's
// switch followed by its flags.
struct FlagGroup {
  std::string title;  // e.g. "Backup collector"
  std::optional<SwitchSpec> toggle;
  std::vector<FlagSpec> flags;
};

// Every flag given on the command line, by name; the last of a repeated flag
// wins. A switch is stored as "true" or "false".
class FlagValues {
 public:
  std::optional<std::string> Get(const std::string& name) const;
  bool Switch(const std::string& name, bool default_on) const;
  void Set(const std::string& name, std::string value) { values_[name] = std::move(value); }
  void Unset(const std::string& name) { values_.erase(name); }
  template <typename Visit>
  void ForEach(Visit visit) const {
    for (const auto& [name, value] : values_) visit(name, value);
  }
  bool operator==(const FlagValues& other) const { return values_ == other.values_; }

 private:
  std::map<std::string, std::string> values_;
};

struct CommandLine {
  enum class Kind { kRun, kHelp, kHelpMan, kVersion } kind = Kind::kRun;
  FlagValues flags;
};

// Reads flags as node_exporter takes them: --name=value, --name value,
// --NAME / --no-NAME for switches, -h/--help, --help-man (kingpin's: the
// help as a man page) and --version. A flag no group
// declares is a usage error (one line, with the fix).
Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                     const std::vector<FlagGroup>& groups);

// The --help text: `intro`, then every group's flags, then `epilogue`.
std::string UsageText(const std::string& intro, const std::vector<FlagGroup>& groups,
                      const std::string& epilogue);

// A flag holding a positive Prometheus duration (15s, 1m30s), or `fallback`
// when it is absent.
Result<Duration> PositiveDurationFlag(const FlagValues& flags, const std::string& name,
                                      Duration fallback);

// A flag naming a file, made absolute (against the working directory at
// start, so a later chdir changes nothing) and normalised; nullopt when the
// flag is absent. Empty is an Error: "--NAME is empty: " + `fix`.
Result<std::optional<std::string>> PathFlag(const FlagValues& flags, const std::string& name,
                                            const std::string& fix);

// A flag holding a whole number from `min` to `max`, or `fallback` when it is
// absent.
Result<long long> IntegerFlag(const FlagValues& flags, const std::string& name, long long fallback,
                              long long min, long long max);

}  // namespace caloria
