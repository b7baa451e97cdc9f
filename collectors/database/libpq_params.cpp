#include "collectors/database/libpq_params.h"

namespace caloria {
namespace {

constexpr std::string_view kPassword = "password";

// libpq's keywords are lower-case words with underscores; anything else in
// the key would let a URL query option write its own keyword=value pairs.
bool IsKeyword(std::string_view key) {
  if (key.empty()) return false;
  for (const char c : key) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    if (!ok) return false;
  }
  return true;
}

}  // namespace

LibpqKeywordValues UrlLibpqParams(const SqlalchemyUrl& url, const LibpqKeywordValues& defaults) {
  LibpqKeywordValues params;
  if (!url.host.empty()) params.emplace_back("host", url.host);
  if (url.port) params.emplace_back("port", std::to_string(*url.port));
  if (!url.database.empty()) params.emplace_back("dbname", url.database);
  if (!url.username.empty()) params.emplace_back("user", url.username);
  if (!url.password.empty()) params.emplace_back(kPassword, url.password.Reveal());
  params.insert(params.end(), defaults.begin(), defaults.end());
  for (const auto& [key, value] : url.query) params.emplace_back(key, value);
  return params;
}

std::string QuoteConninfoValue(std::string_view value) {
  std::string quoted = "'";
  for (const char c : value) {
    if (c == '\\' || c == '\'') quoted += '\\';
    quoted += c;
  }
  quoted += '\'';
  return quoted;
}

Result<PasswordlessConninfo> SplitPassword(const LibpqKeywordValues& params) {
  PasswordlessConninfo split;
  for (const auto& [key, value] : params) {
    if (!IsKeyword(key)) {
      // Only printable keys are quoted back; the value never is.
      std::string shown;
      for (const char c : key) shown += (c >= 0x20 && c < 0x7f) ? c : '?';
      return Fail("the database URL's query option '" + shown +
                  "' is not a libpq connection option: remove it from DATABASE_URL");
    }
    if (value.find('\0') != std::string::npos) {
      return Fail("the database URL's " + key +
                  " holds a NUL byte (%00), which no command line can carry: remove it from "
                  "DATABASE_URL");
    }
    if (key == kPassword) {
      split.password = Secret(value);
      continue;
    }
    if (!split.conninfo.empty()) split.conninfo += ' ';
    split.conninfo += key + "=" + QuoteConninfoValue(value);
  }
  return split;
}

}  // namespace caloria
