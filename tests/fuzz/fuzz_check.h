#pragma once

// What the fuzz targets share. A broken invariant must stop the run the way
// a crash does, so that libFuzzer saves the input as a reproducer
// (crash-<sha1>) and scripts/fuzz fails.

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace caloria::fuzz {

// Aborts with `what` when `ok` is false.
inline void Require(bool ok, const char* what) {
  if (ok) return;
  std::fprintf(stderr, "fuzz invariant broken: %s\n", what);
  std::abort();
}

inline std::string Text(const std::uint8_t* data, std::size_t size) {
  return {reinterpret_cast<const char*>(data), size};
}

// FNV-1a: a choice (chunk sizes, a bound) that depends only on the input,
// so that a saved reproducer replays the same run.
inline std::uint64_t Hash(std::string_view text) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const char c : text) {
    hash ^= static_cast<unsigned char>(c);
    hash *= 1099511628211ULL;
  }
  return hash;
}

// xorshift64*: the sequence of chunk sizes for one input.
class Random {
 public:
  explicit Random(std::uint64_t seed) : state_(seed == 0 ? 1 : seed) {}
  std::uint64_t Next() {
    state_ ^= state_ >> 12U;
    state_ ^= state_ << 25U;
    state_ ^= state_ >> 27U;
    return state_ * 2685821657736338717ULL;
  }

 private:
  std::uint64_t state_;
};

}  // namespace caloria::fuzz
