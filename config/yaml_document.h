#pragma once

#include <yaml-cpp/yaml.h>

#include <string>

#include "core/result.h"

namespace caloria {

// How a YAML file a person writes (--web.config.file, --config.file) is
// named in messages and what it should hold.
struct YamlFileKind {
  std::string named;   // starts every message, e.g. "--config.file /etc/caloria/targets.yml"
  std::string layout;  // the fix for a file that reads as empty, e.g. "write a targets: list"
  std::string depth;   // the fix for nesting too deep, e.g. "a targets file is 3 levels deep"
};

// The text's one YAML document; Null when the text holds only blank lines,
// comments and document markers. A syntax error, a second document or
// stray text after the first, and nesting past yaml-cpp's depth guard are
// Errors of one line that never quote the input (it may hold a secret).
//
// yaml-cpp 0.7's LoadAll loops forever, allocating, on stray text such as a
// lone ',' (yaml-cpp issue 1040, fixed in 0.8.0), and Load reads such text
// as an empty document, which would silently switch a file's settings off.
// So the parser is first asked for at most two documents: a second is
// either a second document or stray text, and both are refused. Then Load
// builds the nodes.
Result<YAML::Node> ParseYamlDocument(const std::string& text, const YamlFileKind& kind);

// "mapping", "list", "null" or "single value", for messages.
const char* YamlKindName(const YAML::Node& node);

}  // namespace caloria
