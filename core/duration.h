#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace caloria {

using Duration = std::chrono::milliseconds;

// Parses a Prometheus duration ("15s", "1m30s", "500ms", "26h", "7d", "1w"):
// the same syntax operators already write in prometheus.yml. Returns nullopt
// for anything else, including negative, empty or unit-less values.
std::optional<Duration> ParseDuration(const std::string& text);

// Formats the way Prometheus does: largest units first, "0s" for zero.
std::string FormatDuration(Duration duration);

}  // namespace caloria
