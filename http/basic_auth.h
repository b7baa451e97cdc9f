#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "core/secret.h"

namespace caloria {

// Why a request was let in or not. The server answers every denial alike
// (401 with `WWW-Authenticate: Basic`); the reason is for logs and tests.
enum class AuthResult {
  kAllowed,
  kNoCredentials,  // no Authorization header, or a blank one
  kMalformed,      // not `Basic base64(user:password)`, over 4 KiB, a NUL in the password
  kUnknownUser,
  kWrongPassword,
};

const char* AuthResultName(AuthResult result);

// Checks HTTP basic auth against the web-config file's basic_auth_users, as
// exporter-toolkit's handler does: bcrypt through libcrypt, the computed
// hash compared in constant time, an unknown user checked against a dummy
// hash of the users' highest cost (so that it takes as long as a wrong
// password), and the verdict cached under a SHA-256 of user, hash and
// password, so a scraper that logs in every 15 s pays bcrypt once.
//
// Synchronous and slow on a cache miss: one bcrypt, about 50-100 ms at cost
// 10 and doubling with each step of cost; misses run one at a time (as the
// toolkit's bcrypt mutex does, so that a flood of bad passwords burns one
// core, not all), so a miss may also wait for others. The HTTP server must
// call it off its network thread. Thread-safe; immutable but for the cache.
class BasicAuthenticator {
 public:
  // A longer Authorization header is refused unread.
  static constexpr std::size_t kMaxHeaderBytes = 4096;
  static constexpr std::size_t kCacheEntries = 1024;

  // `users`: user -> bcrypt hash, as LoadWebConfig checked them. A hash
  // that is not bcrypt never matches.
  explicit BasicAuthenticator(const std::map<std::string, Secret>& users);
  BasicAuthenticator(const BasicAuthenticator&) = delete;
  BasicAuthenticator& operator=(const BasicAuthenticator&) = delete;

  // `authorization` is the Authorization header's value, empty when the
  // request has none.
  AuthResult Authenticate(std::string_view authorization) const;
  bool Check(std::string_view authorization) const {
    return Authenticate(authorization) == AuthResult::kAllowed;
  }

  // The cost of the dummy hash an unknown user is checked against.
  int dummy_cost() const { return dummy_cost_; }
  // How many times bcrypt ran: a cached verdict does not add to it.
  std::uint64_t bcrypt_runs() const { return bcrypt_runs_.load(); }

 private:
  using CacheKey = std::array<unsigned char, 32>;  // SHA-256

  // Verdicts, bounded: the oldest goes first.
  class VerdictCache {
   public:
    std::optional<bool> Find(const CacheKey& key) const;
    void Insert(const CacheKey& key, bool verdict);

   private:
    mutable std::mutex mutex_;
    std::map<CacheKey, bool> verdicts_;
    std::deque<CacheKey> order_;
  };

  bool BcryptMatches(const std::string& password, const std::string& hash) const;

  std::map<std::string, Secret, std::less<>> users_;  // found by string_view
  std::string dummy_hash_;
  int dummy_cost_ = 10;
  mutable VerdictCache cache_;
  mutable std::mutex bcrypt_mutex_;
  mutable std::atomic<std::uint64_t> bcrypt_runs_{0};
};

}  // namespace caloria
