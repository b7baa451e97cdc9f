#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "config/flags.h"
#include "core/result.h"
#include "core/secret.h"

namespace caloria {

// One target of --config.file: a Caloria deployment the exporter watches
// beside others, under its own name.
struct TargetSpec {
  std::string name;  // the `target` label and ?target=NAME: [A-Za-z0-9_.-], 1 to 64 characters
  // The target's settings as the flags they stand for ("backup.dir" ->
  // "/srv/a/backups"), over those given on the command line. Paths are
  // absolute: relative ones are taken from the file's folder.
  FlagValues settings;
  std::optional<Secret> url;  // `url:`, the target's DATABASE_URL; never printed
};

// The --config.file YAML (docs/configuration.md#many-targets,
// deploy/caloria-exporter.example.yml):
//   targets:
//     - name: production
//       env_file: /srv/caloria/.env      # or url_file:, or url:
//       backup_dir: /var/backups/caloria
//       ...
// Strict as the web-config file: an unknown key, a repeated key or name, a
// target without a database (env_file, url_file or url) is an Error naming
// the file, the target and the fix, in one line that never holds a url.
struct TargetsFile {
  std::string path;  // absolute
  std::vector<TargetSpec> targets;
};

// A targets file lists a few hundred targets at most; anything larger is
// refused before it is parsed (yaml-cpp costs about 250 bytes per byte).
inline constexpr std::size_t kMaxTargetsFileBytes = 256 * 1024;
inline constexpr std::size_t kMaxTargets = 500;

Result<TargetsFile> LoadTargetsFile(const std::string& path);

// What LoadTargetsFile does once it has read the file; `path` is absolute.
// Apart from the reading for the fuzzer (tests/fuzz/).
Result<TargetsFile> ParseTargetsText(const std::string& text, const std::string& path);

// The flags a target may set in the file, by their key there
// ("backup_dir" -> "backup.dir"), for docs and tests.
struct TargetKey {
  const char* key;
  const char* flag;  // null for `name` and `url`
  bool path;         // relative values are taken from the file's folder
};
const std::vector<TargetKey>& TargetKeys();

// Whether `name` may name a target: 1 to 64 of [A-Za-z0-9_.-]. Never a
// URL, a host:port or a path, so ?target= can only pick from the file.
bool IsTargetName(std::string_view name);

}  // namespace caloria
