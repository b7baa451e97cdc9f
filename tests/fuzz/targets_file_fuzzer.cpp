// The targets file's parser (config/targets_file, --config.file): yaml-cpp
// and our strict reading of the targets, through ParseTargetsText.

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>

#include "config/targets_file.h"
#include "tests/fuzz/fuzz_check.h"

using caloria::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const std::string path = "/etc/caloria/targets.yml";
  const caloria::Result<caloria::TargetsFile> file = caloria::ParseTargetsText(text, path);
  if (!file) {
    Require(file.error().find('\n') == std::string::npos, "an error of more than one line");
    Require(file.error().rfind("--config.file " + path + ": ", 0) == 0,
            "an error that does not name the file");
    return 0;
  }
  // What is accepted is what the exporter relies on: names that are never
  // a URL or a host, none twice, a database for every target, absolute paths.
  Require(!file->targets.empty(), "a file accepted without targets");
  Require(file->targets.size() <= caloria::kMaxTargets, "more targets than the bound");
  std::set<std::string> names;
  for (const caloria::TargetSpec& target : file->targets) {
    Require(caloria::IsTargetName(target.name), "a target name that is not a name");
    Require(names.insert(target.name).second, "a name accepted twice");
    const bool database = target.url || target.settings.Get("app.env-file") ||
                          target.settings.Get("database.url-file");
    Require(database, "a target without a database");
    for (const caloria::TargetKey& key : caloria::TargetKeys()) {
      if (!key.flag || !key.path) continue;
      const auto value = target.settings.Get(key.flag);
      Require(!value || (!value->empty() && value->front() == '/'), "a relative path kept");
    }
  }
  return 0;
}
