// The duration parser (core/duration): Prometheus durations from flags and
// the environment.

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>

#include "core/duration.h"
#include "tests/fuzz/fuzz_check.h"

using caloria::fuzz::Require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const std::optional<caloria::Duration> duration = caloria::ParseDuration(text);
  Require(caloria::ParseDuration(text) == duration,
          "the same text parsed twice gave different durations");
  if (!duration) return 0;
  Require(duration->count() >= 0, "a negative duration");
  // What FormatDuration writes, ParseDuration reads back to the same value.
  const std::string formatted = caloria::FormatDuration(*duration);
  Require(!formatted.empty(), "a duration formatted as nothing");
  Require(caloria::ParseDuration(formatted) == duration, "FormatDuration does not parse back");
  return 0;
}
