#pragma once

// Shared by the web-config unit tests and its fuzzer: what "no bcrypt hash in
// an error message" means, in one place.

#include <cstddef>
#include <string>

namespace caloria::testing {

// Whether `text` holds something shaped like a bcrypt hash: "$2", a letter,
// "$", a cost, "$", then salt and hash characters. The error messages may
// name the prefixes ($2y$ and so on); they must never hold a hash.
inline bool HoldsAHash(const std::string& text) {
  for (std::size_t at = text.find("$2"); at != std::string::npos; at = text.find("$2", at + 1)) {
    const std::string rest = text.substr(at, 20);
    if (rest.size() == 20 && rest[3] == '$' && rest[6] == '$' &&
        rest.find_first_not_of("./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
                               7) == std::string::npos) {
      return true;
    }
  }
  return false;
}

}  // namespace caloria::testing
