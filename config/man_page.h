#pragma once

#include <string>
#include <utility>
#include <vector>

#include "config/flags.h"

namespace caloria {

// What a man page says besides the flags.
struct ManPageText {
  std::string program;      // e.g. "caloria_exporter"
  std::string version;      // shown in the page's footer
  std::string summary;      // the NAME line after the dash
  std::string description;  // paragraphs separated by blank lines
  std::vector<std::pair<std::string, std::string>> environment;  // variable, meaning
  std::vector<std::pair<std::string, std::string>> files;        // path, what it is
  std::vector<std::string> see_also;                             // e.g. "prometheus(1)"
};

// The program's man page, section 1, in roff (man macros), from the same
// flag groups as --help: `caloria_exporter --help-man` prints it and the
// build installs it, so the page cannot drift from the flags.
std::string ManPage(const ManPageText& text, const std::vector<FlagGroup>& groups);

// Text made safe for roff: backslashes and hyphens escaped, and a line that
// would start with a control character ('.' or '\'') guarded.
std::string RoffEscape(const std::string& text);

}  // namespace caloria
