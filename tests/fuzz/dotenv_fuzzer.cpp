// The env-file parser (config/dotenv): python-dotenv's syntax, ${...}
// expansion and its bounds, on any bytes.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "config/dotenv.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;

// The process environment ${...} looks in first: a few names the
// dictionary knows, one big enough that repeating it meets the bounds.
std::optional<std::string> ProcessEnv(const std::string& name) {
  if (name == "HOME") return std::string("/home/caloria");
  if (name == "EMPTY") return std::string();
  if (name == "BIG") return std::string(8 * 1024, 'b');
  return std::nullopt;
}

bool SameWarnings(const caloria::DotenvFile& a, const caloria::DotenvFile& b) {
  return std::equal(a.warnings.begin(), a.warnings.end(), b.warnings.begin(), b.warnings.end(),
                    [](const caloria::DotenvWarning& x, const caloria::DotenvWarning& y) {
                      return x.line == y.line && x.message == y.message;
                    });
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const caloria::EnvLookup lookup = &ProcessEnv;
  const caloria::DotenvFile file = caloria::ParseDotenv(text, lookup);

  std::size_t total = 0;
  for (const auto& [key, value] : file.values) {
    Require(!key.empty(), "an empty variable name was set");
    Require(value.size() <= caloria::kMaxDotenvValueBytes, "a value passed the 64 KiB bound");
    total += value.size();
  }
  Require(total <= caloria::kMaxDotenvFileBytes, "the values together passed the 1 MiB bound");

  // Warnings name lines of the file (CR, LF and CRLF each end one), in order.
  const auto line_ends =
      std::count(text.begin(), text.end(), '\n') + std::count(text.begin(), text.end(), '\r');
  int previous = 1;
  for (const caloria::DotenvWarning& warning : file.warnings) {
    Require(warning.line >= previous && warning.line <= line_ends + 1,
            "a warning names a line out of order or outside the file");
    Require(!warning.message.empty() && warning.message.find('\n') == std::string::npos,
            "a warning is not one line");
    previous = warning.line;
  }

  const caloria::DotenvFile again = caloria::ParseDotenv(text, lookup);
  Require(again.values == file.values && SameWarnings(again, file),
          "the same text parsed twice gave different results");
  return 0;
}
