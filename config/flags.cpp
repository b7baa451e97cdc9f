#include "config/flags.h"

#include <charconv>
#include <filesystem>
#include <sstream>

namespace caloria {
namespace {

const FlagSpec* FindFlag(const std::vector<FlagGroup>& groups, const std::string& name) {
  for (const auto& group : groups) {
    for (const auto& flag : group.flags) {
      if (flag.name == name) return &flag;
    }
  }
  return nullptr;
}

const SwitchSpec* FindSwitch(const std::vector<FlagGroup>& groups, const std::string& name) {
  for (const auto& group : groups) {
    if (group.toggle && group.toggle->name == name) return &*group.toggle;
  }
  return nullptr;
}

}  // namespace

std::optional<std::string> FlagValues::Get(const std::string& name) const {
  if (auto it = values_.find(name); it != values_.end()) return it->second;
  return std::nullopt;
}

bool FlagValues::Switch(const std::string& name, bool default_on) const {
  const auto value = Get(name);
  return value ? *value == "true" : default_on;
}

Result<CommandLine> ParseCommandLine(const std::vector<std::string>& args,
                                     const std::vector<FlagGroup>& groups) {
  CommandLine command;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--help" || arg == "-h") {
      command.kind = CommandLine::Kind::kHelp;
      continue;
    }
    if (arg == "--help-man") {
      command.kind = CommandLine::Kind::kHelpMan;
      continue;
    }
    if (arg == "--version") {
      command.kind = CommandLine::Kind::kVersion;
      continue;
    }
    if (!arg.starts_with("--")) {
      return Fail("unexpected argument '" + arg + "': flags are written --name=value, see --help");
    }
    const auto equals = arg.find('=');
    const std::string name =
        arg.substr(2, equals == std::string::npos ? std::string::npos : equals - 2);
    const bool negated = name.starts_with("no-");
    if (FindSwitch(groups, negated ? name.substr(3) : name)) {
      if (equals != std::string::npos) {
        return Fail("--" + name + " takes no value: write --" + name + " alone");
      }
      command.flags.Set(negated ? name.substr(3) : name, negated ? "false" : "true");
      continue;
    }
    if (!FindFlag(groups, name)) {
      return Fail("unknown flag --" + name + ": see --help for the flags this exporter takes");
    }
    std::string value;
    if (equals != std::string::npos) {
      value = arg.substr(equals + 1);
    } else if (i + 1 < args.size()) {
      value = args[++i];
    } else {
      return Fail("flag --" + name + " needs a value: write --" + name + "=VALUE");
    }
    command.flags.Set(name, std::move(value));
  }
  return command;
}

std::string UsageText(const std::string& intro, const std::vector<FlagGroup>& groups,
                      const std::string& epilogue) {
  std::ostringstream out;
  out << intro
      << "Flags:\n"
         "  -h, --help      Show this help and exit.\n"
         "      --help-man  Print this help as a man page (roff) and exit.\n"
         "      --version   Show the version and exit.\n";
  for (const auto& group : groups) {
    out << "\n" << group.title << ":\n";
    if (group.toggle) {
      out << "      --[no-]" << group.toggle->name << "\n          " << group.toggle->help
          << " (default " << (group.toggle->default_on ? "enabled" : "disabled") << ").\n";
    }
    for (const auto& flag : group.flags) {
      out << "      --" << flag.name << "=" << flag.value_name << "\n          " << flag.help
          << "\n";
    }
  }
  out << epilogue;
  return out.str();
}

Result<Duration> PositiveDurationFlag(const FlagValues& flags, const std::string& name,
                                      Duration fallback) {
  const auto value = flags.Get(name);
  if (!value) return fallback;
  const auto parsed = ParseDuration(*value);
  if (!parsed || parsed->count() <= 0) {
    return Fail("--" + name + "='" + *value +
                "' is not a positive duration: write it like 15s, 500ms or 1m30s");
  }
  return *parsed;
}

Result<long long> IntegerFlag(const FlagValues& flags, const std::string& name, long long fallback,
                              long long min, long long max) {
  const auto value = flags.Get(name);
  if (!value) return fallback;
  long long parsed = 0;
  const char* end = value->data() + value->size();
  const auto [stop, error] = std::from_chars(value->data(), end, parsed);
  if (value->empty() || error != std::errc() || stop != end || parsed < min || parsed > max) {
    return Fail("--" + name + "='" + *value + "' is not a whole number from " +
                std::to_string(min) + " to " + std::to_string(max) + ": e.g. --" + name + "=" +
                std::to_string(fallback));
  }
  return parsed;
}

Result<std::optional<std::string>> PathFlag(const FlagValues& flags, const std::string& name,
                                            const std::string& fix) {
  const std::optional<std::string> path = flags.Get(name);
  if (!path) return std::optional<std::string>();
  if (path->empty()) return Fail("--" + name + " is empty: " + fix);
  std::error_code error;
  const std::filesystem::path absolute = std::filesystem::absolute(*path, error);
  return std::optional<std::string>(
      (error ? std::filesystem::path(*path) : absolute).lexically_normal().string());
}

}  // namespace caloria
