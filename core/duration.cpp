#include "core/duration.h"

#include <array>
#include <cctype>
#include <cstdint>
#include <limits>
#include <utility>

namespace caloria {
namespace {

struct Unit {
  const char* suffix;
  std::int64_t milliseconds;
};

// Ordered from largest to smallest: Prometheus requires units in this order
// and uses it for formatting.
constexpr std::array<Unit, 7> kUnits{{{"y", 365LL * 24 * 3600 * 1000},
                                      {"w", 7LL * 24 * 3600 * 1000},
                                      {"d", 24LL * 3600 * 1000},
                                      {"h", 3600LL * 1000},
                                      {"m", 60LL * 1000},
                                      {"s", 1000},
                                      {"ms", 1}}};

// Returns the index of the unit starting at text[pos], preferring "ms" over "m".
std::optional<std::size_t> MatchUnit(const std::string& text, std::size_t pos) {
  if (text.compare(pos, 2, "ms") == 0) return kUnits.size() - 1;
  for (std::size_t i = 0; i + 1 < kUnits.size(); ++i) {
    if (text.compare(pos, 1, kUnits[i].suffix) == 0 && kUnits[i].suffix[1] == '\0') return i;
  }
  return std::nullopt;
}

}  // namespace

std::optional<Duration> ParseDuration(const std::string& text) {
  if (text.empty()) return std::nullopt;
  if (text == "0") return Duration{0};
  std::int64_t total = 0;
  std::size_t pos = 0;
  std::optional<std::size_t> previous_unit;
  while (pos < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[pos]))) return std::nullopt;
    std::int64_t number = 0;
    while (pos < text.size() && std::isdigit(static_cast<unsigned char>(text[pos]))) {
      if (number > (std::numeric_limits<std::int64_t>::max() - 9) / 10) return std::nullopt;
      number = number * 10 + (text[pos] - '0');
      ++pos;
    }
    const auto unit = MatchUnit(text, pos);
    if (!unit || (previous_unit && *unit <= *previous_unit)) return std::nullopt;
    const std::int64_t scale = kUnits[*unit].milliseconds;
    if (number > (std::numeric_limits<std::int64_t>::max() - total) / scale) return std::nullopt;
    total += number * scale;
    pos += std::char_traits<char>::length(kUnits[*unit].suffix);
    previous_unit = unit;
  }
  return Duration{total};
}

std::string FormatDuration(Duration duration) {
  std::int64_t remaining = duration.count();
  if (remaining <= 0) return "0s";
  std::string out;
  for (const Unit& unit : kUnits) {
    if (remaining >= unit.milliseconds) {
      out += std::to_string(remaining / unit.milliseconds) + unit.suffix;
      remaining %= unit.milliseconds;
    }
  }
  return out;
}

}  // namespace caloria
