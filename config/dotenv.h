#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace caloria {

// A line of an env file that could not be understood; the line is skipped,
// as python-dotenv does, and the exporter logs the warning.
struct DotenvWarning {
  int line = 0;         // 1-based line number where the bad entry starts
  std::string message;  // e.g. "unterminated double quote: close the quote"
};

struct DotenvFile {
  // Variables in file order of last assignment; later assignments win.
  std::map<std::string, std::string> values;
  std::vector<DotenvWarning> warnings;
};

// Looks up a variable in the process environment. ${VAR} expansion asks it
// first and falls back to values defined earlier in the file, as
// python-dotenv's load_dotenv(override=False) does.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// Parses the text of an env file with python-dotenv (1.x) semantics.
// Never throws on malformed input: bad entries become warnings.
DotenvFile ParseDotenv(const std::string& text, const EnvLookup& process_env);

}  // namespace caloria
