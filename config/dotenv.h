#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/result.h"

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

// Bounds that keep an env file, however written, from exhausting memory or
// time (a real one holds a few variables in a few KiB; python-dotenv has no
// bounds, and 285 bytes of nested ${...} references expand to 4 GiB):
//  - only the first kMaxDotenvFileBytes of the text are read, up to the
//    last whole line; a warning names the first line left out;
//  - a value longer than kMaxDotenvValueBytes once its ${...} references are
//    expanded is skipped with a warning naming its line, like a malformed
//    entry, and so is every value once all of them together would pass
//    kMaxDotenvFileBytes.
inline constexpr std::size_t kMaxDotenvFileBytes = 1024 * 1024;
inline constexpr std::size_t kMaxDotenvValueBytes = 64 * 1024;

// Parses the text of an env file with python-dotenv (1.x) semantics.
// Never throws on malformed input: bad entries become warnings.
DotenvFile ParseDotenv(const std::string& text, const EnvLookup& process_env);

// Reads an env file for ParseDotenv: a regular file only (a FIFO would
// block, a device might never end), and at most kMaxDotenvFileBytes + 1
// bytes, one more than ParseDotenv reads so that it can warn that the file
// is larger. An Error names the file and the fix.
Result<std::string> ReadDotenvFile(const std::string& path);

}  // namespace caloria
