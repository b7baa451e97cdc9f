#include "http/basic_auth.h"

#include <crypt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <cstring>
#include <memory>

#include "config/web_config.h"

namespace caloria {
namespace {

constexpr std::size_t kBcryptLength = 60;
constexpr std::size_t kBcryptSettingLength = 29;  // "$2b$10$" and 22 characters of salt
constexpr std::size_t kBcryptPasswordBytes = 72;

// Text that held a password: wiped before its memory goes back to the heap.
// Sized once, so the string never reallocates and leaves a copy behind.
class WipedString {
 public:
  explicit WipedString(std::size_t capacity) { text_.reserve(capacity); }
  ~WipedString() {
    text_.resize(text_.capacity());  // within capacity: no reallocation
    OPENSSL_cleanse(text_.data(), text_.size());
  }
  WipedString(const WipedString&) = delete;
  WipedString& operator=(const WipedString&) = delete;
  std::string& text() { return text_; }

 private:
  std::string text_;
};

int Base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// Standard base64 as RFC 7617 has it: padded, nothing but the alphabet, and
// canonical (the bits past the data are zero). False on anything else.
// Written out rather than EVP_DecodeBlock, which does not say how much
// padding it read and accepts surrounding whitespace.
bool DecodeBase64(std::string_view text, std::string& out) {
  if (text.empty() || text.size() % 4 != 0) return false;
  for (std::size_t i = 0; i < text.size(); i += 4) {
    std::array<int, 4> digits{};
    int padding = 0;
    for (std::size_t j = 0; j < 4; ++j) {
      const char c = text[i + j];
      if (c == '=') {
        if (i + 4 != text.size() || j < 2) return false;  // padding only ends the text
        ++padding;
        continue;
      }
      if (padding > 0) return false;  // data after padding
      digits[j] = Base64Value(c);
      if (digits[j] < 0) return false;
    }
    if ((padding == 2 && (digits[1] & 0x0f) != 0) || (padding == 1 && (digits[2] & 0x03) != 0)) {
      return false;
    }
    const auto bits =
        static_cast<std::uint32_t>(digits[0] << 18 | digits[1] << 12 | digits[2] << 6 | digits[3]);
    out.push_back(static_cast<char>(bits >> 16));
    if (padding < 2) out.push_back(static_cast<char>((bits >> 8) & 0xff));
    if (padding < 1) out.push_back(static_cast<char>(bits & 0xff));
  }
  return true;
}

std::string_view TrimSpaces(std::string_view text) {
  const std::size_t first = text.find_first_not_of(" \t");
  if (first == std::string_view::npos) return {};
  return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

bool StartsWithBasic(std::string_view text) {
  constexpr std::string_view kScheme = "basic";
  if (text.size() <= kScheme.size() || text[kScheme.size()] != ' ') return false;
  for (std::size_t i = 0; i < kScheme.size(); ++i) {
    const char c = text[i];
    if ((c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c) != kScheme[i]) return false;
  }
  return true;
}

// The cache's key: a SHA-256 of the three, each length-prefixed so that no
// two triples run together, and so the cache holds no password.
std::optional<std::array<unsigned char, 32>> CacheKeyOf(std::string_view user,
                                                        std::string_view hash,
                                                        std::string_view password) {
  const std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> context(EVP_MD_CTX_new(),
                                                                        &EVP_MD_CTX_free);
  if (!context || EVP_DigestInit_ex(context.get(), EVP_sha256(), nullptr) != 1) return std::nullopt;
  for (const std::string_view field : {user, hash, password}) {
    const std::uint64_t size = field.size();
    if (EVP_DigestUpdate(context.get(), &size, sizeof size) != 1 ||
        EVP_DigestUpdate(context.get(), field.data(), field.size()) != 1) {
      return std::nullopt;
    }
  }
  std::array<unsigned char, 32> key{};
  unsigned int length = 0;
  if (EVP_DigestFinal_ex(context.get(), key.data(), &length) != 1 || length != key.size()) {
    return std::nullopt;
  }
  return key;
}

// A hash no password produces in practice, of the given cost: its salt from
// crypt_gensalt_rn, its hash part all zero bits. Only its cost matters.
std::string MakeDummyHash(const std::string& prefix, int cost) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  if (crypt_gensalt_rn(prefix.c_str(), cost, nullptr, 0, setting.data(),
                       static_cast<int>(setting.size())) == nullptr) {
    // No entropy from the kernel: a fixed salt serves as well here.
    constexpr std::array<char, 16> kSalt = {'c', 'a', 'l', 'o', 'r', 'i', 'a', '-',
                                            'd', 'u', 'm', 'm', 'y', '-', 'p', 'w'};
    if (crypt_gensalt_rn(prefix.c_str(), cost, kSalt.data(), static_cast<int>(kSalt.size()),
                         setting.data(), static_cast<int>(setting.size())) == nullptr) {
      return {};  // never for $2b$ and a cost from 4 to 31; such a dummy never matches
    }
  }
  return std::string(setting.data()) + std::string(kBcryptLength - kBcryptSettingLength, '.');
}

}  // namespace

const char* AuthResultName(AuthResult result) {
  switch (result) {
    case AuthResult::kAllowed:
      return "allowed";
    case AuthResult::kNoCredentials:
      return "no credentials";
    case AuthResult::kMalformed:
      return "malformed Authorization header";
    case AuthResult::kUnknownUser:
      return "unknown user";
    case AuthResult::kWrongPassword:
      return "wrong password";
  }
  return "denied";
}

BasicAuthenticator::BasicAuthenticator(const std::map<std::string, Secret>& users)
    : users_(users.begin(), users.end()) {
  // The toolkit's dummy has a fixed cost of 10; ours follows the users', so
  // an unknown user costs what the slowest known one does.
  std::string prefix = "$2b$";
  int highest = 0;
  for (const auto& [user, hash] : users_) {
    const std::optional<int> cost = BcryptHashCost(hash.Reveal());
    if (cost && *cost > highest) {
      highest = *cost;
      prefix = hash.Reveal().substr(0, 4);
    }
  }
  if (highest > 0) dummy_cost_ = highest;
  dummy_hash_ = MakeDummyHash(prefix, dummy_cost_);
}

AuthResult BasicAuthenticator::Authenticate(std::string_view authorization) const {
  if (authorization.size() > kMaxHeaderBytes) return AuthResult::kMalformed;
  const std::string_view header = TrimSpaces(authorization);
  if (header.empty()) return AuthResult::kNoCredentials;
  if (!StartsWithBasic(header)) return AuthResult::kMalformed;
  const std::string_view token = TrimSpaces(header.substr(6));

  WipedString decoded(token.size());
  if (!DecodeBase64(token, decoded.text())) return AuthResult::kMalformed;
  const std::string_view credentials = decoded.text();
  const std::size_t colon = credentials.find(':');
  if (colon == std::string_view::npos) return AuthResult::kMalformed;
  const std::string_view user = credentials.substr(0, colon);
  const std::string_view password_view = credentials.substr(colon + 1);
  // crypt() would stop at a NUL and let "right\0anything" in.
  if (password_view.find('\0') != std::string_view::npos) return AuthResult::kMalformed;

  const auto known = users_.find(user);
  const bool user_known = known != users_.end();
  const std::string& hash = user_known ? known->second.Reveal() : dummy_hash_;

  const std::optional<CacheKey> key = CacheKeyOf(user, hash, password_view);
  std::optional<bool> verdict = key ? cache_.Find(*key) : std::nullopt;
  if (!verdict) {
    // bcrypt reads the first 72 bytes only; libcrypt refuses a passphrase of
    // over 512 outright, where Go's bcrypt (the toolkit's) takes any length.
    const std::string_view read = password_view.substr(0, kBcryptPasswordBytes);
    WipedString password(read.size());
    password.text().assign(read);
    verdict = BcryptMatches(password.text(), hash);
    if (key) cache_.Insert(*key, *verdict);
  }
  if (!user_known) return AuthResult::kUnknownUser;
  return *verdict ? AuthResult::kAllowed : AuthResult::kWrongPassword;
}

bool BasicAuthenticator::BcryptMatches(const std::string& password, const std::string& hash) const {
  // crypt_data is 32 KiB, too much for a stack; value-initialised, i.e.
  // zeroed, as libcrypt asks.
  const auto data = std::make_unique<crypt_data>();
  const char* computed = nullptr;
  {
    const std::lock_guard<std::mutex> lock(bcrypt_mutex_);
    bcrypt_runs_.fetch_add(1);
    computed = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  }
  // Only the hash part is compared: libcrypt writes the salt's last
  // character in canonical form, which a hash made elsewhere may not use
  // (Go's bcrypt compares the same way).
  const bool match =
      computed != nullptr && hash.size() == kBcryptLength &&
      std::strlen(computed) == kBcryptLength &&
      CRYPTO_memcmp(computed + kBcryptSettingLength, hash.data() + kBcryptSettingLength,
                    kBcryptLength - kBcryptSettingLength) == 0;
  OPENSSL_cleanse(data.get(), sizeof(crypt_data));
  return match;
}

std::optional<bool> BasicAuthenticator::VerdictCache::Find(const CacheKey& key) const {
  const std::lock_guard<std::mutex> lock(mutex_);
  const auto found = verdicts_.find(key);
  if (found == verdicts_.end()) return std::nullopt;
  return found->second;
}

void BasicAuthenticator::VerdictCache::Insert(const CacheKey& key, bool verdict) {
  const std::lock_guard<std::mutex> lock(mutex_);
  // Two misses of the same key may race here; the first one's entry stands.
  if (!verdicts_.emplace(key, verdict).second) return;
  order_.push_back(key);
  if (order_.size() > kCacheEntries) {
    verdicts_.erase(order_.front());
    order_.pop_front();
  }
}

}  // namespace caloria
