#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace caloria {

// A value that must never reach a log line, a metric, a health page or an
// error message. It prints as *** wherever it is streamed; the plain value is
// only reachable through Reveal(), which makes every use easy to audit.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  const std::string& Reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

  // `text` with every occurrence of the value replaced by ***, for messages
  // from libraries that might echo it. Values under four characters are left
  // alone: replacing every "p" in a message would garble it and, by where the
  // stars land, give the value away.
  std::string ScrubFrom(std::string text) const {
    if (value_.size() < 4) return text;
    for (auto pos = text.find(value_); pos != std::string::npos; pos = text.find(value_, pos)) {
      text.replace(pos, value_.size(), "***");
    }
    return text;
  }

  friend std::ostream& operator<<(std::ostream& out, const Secret& secret) {
    return out << (secret.value_.empty() ? "" : "***");
  }
  bool operator==(const Secret& other) const { return value_ == other.value_; }

 private:
  std::string value_;
};

// Every four-character piece of some secrets, for scrubbing messages that a
// library composed out of pieces of them rather than the whole: with an
// unencoded '@' in a password, libpq says `could not translate host name
// "tPa55@127.0.0.1"`, which holds no whole secret for Secret::ScrubFrom to
// find. Four characters is the same floor as ScrubFrom's: shorter pieces
// would match all over an ordinary message. Pieces are compared ignoring
// ASCII case, so that a library that changes the case of a host name still
// gives nothing away.
class SecretFragments {
 public:
  static constexpr std::size_t kLength = 4;

  // Adds every piece of `secret` (nothing when it is shorter than kLength).
  void Add(std::string_view secret) {
    if (secret.size() < kLength) return;
    for (std::size_t i = 0; i + kLength <= secret.size(); ++i) {
      fragments_.push_back(Key(secret.substr(i, kLength)));
    }
    std::sort(fragments_.begin(), fragments_.end());
    fragments_.erase(std::unique(fragments_.begin(), fragments_.end()), fragments_.end());
  }

  bool empty() const { return fragments_.empty(); }

  // `text` with every run of characters that a piece covers replaced by
  // ***: overlapping and adjacent pieces become one ***, so the stars do not
  // tell how long the hidden text was. Linear in the text's length.
  std::string ScrubFrom(const std::string& text) const {
    if (fragments_.empty() || text.size() < kLength) return text;
    std::vector<bool> hidden(text.size(), false);
    bool any = false;
    for (std::size_t i = 0; i + kLength <= text.size(); ++i) {
      const std::uint32_t key = Key(std::string_view(text).substr(i, kLength));
      if (!std::binary_search(fragments_.begin(), fragments_.end(), key)) continue;
      std::fill_n(hidden.begin() + static_cast<std::ptrdiff_t>(i), kLength, true);
      any = true;
    }
    if (!any) return text;
    std::string scrubbed;
    scrubbed.reserve(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (!hidden[i]) {
        scrubbed += text[i];
      } else if (i == 0 || !hidden[i - 1]) {
        scrubbed += "***";
      }
    }
    return scrubbed;
  }

 private:
  static std::uint32_t Key(std::string_view piece) {
    std::uint32_t key = 0;
    for (const char c : piece) {
      const char lower = (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      key = (key << 8U) | static_cast<unsigned char>(lower);
    }
    return key;
  }

  std::vector<std::uint32_t> fragments_;  // sorted, unique
};

}  // namespace caloria
