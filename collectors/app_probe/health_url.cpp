#include "collectors/app_probe/health_url.h"

#include <cstddef>
#include <optional>
#include <string_view>

#include "collectors/app_probe/curl_handles.h"

namespace caloria {
namespace {

constexpr std::size_t kMaxUrlLength = 2048;
constexpr const char* kExample = "e.g. https://caloria.example/health/database";

// One part of a parsed URL; nullopt when it is absent.
std::optional<std::string> Part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* raw = nullptr;
  if (curl_url_get(url, part, &raw, flags) != CURLUE_OK || raw == nullptr) return std::nullopt;
  const CurlString owned(raw);
  return std::string(owned.get());
}

// Whether an '@' stands anywhere but at the end of the user info: after the
// first '/', '?' or '#', or twice. libcurl would read such a URL, but with
// part of the password as the host or in the path.
bool HasStrayAt(std::string_view text) {
  const std::size_t scheme_end = text.find("://");
  if (scheme_end == std::string_view::npos) return false;  // libcurl refuses it anyway
  const std::string_view rest = text.substr(scheme_end + 3);
  const std::size_t at = rest.find('@');
  if (at == std::string_view::npos) return false;
  return rest.find_first_of("/?#") < at || rest.find('@', at + 1) != std::string_view::npos;
}

}  // namespace

std::string HealthUrl::Scrub(std::string text) const {
  text = password.ScrubFrom(std::move(text));
  return password_as_written.ScrubFrom(std::move(text));
}

Result<HealthUrl> ParseHealthUrl(const std::string& text) {
  if (text.empty()) {
    return Fail("--app.health-url is empty: give the app's health page (" + std::string(kExample) +
                ") or leave the flag out");
  }
  if (text.size() > kMaxUrlLength) {
    return Fail("--app.health-url is longer than " + std::to_string(kMaxUrlLength) +
                " characters: give the app's health page, " + kExample);
  }
  if (HasStrayAt(text)) {
    return Fail(
        "--app.health-url has an '@' outside its user info: percent-encode @ / ? # in the user "
        "name and password (@ is %40)");
  }
  const UniqueCurlUrl url(curl_url());
  if (!url) return Fail("cannot parse --app.health-url: out of memory");
  if (const CURLUcode code = curl_url_set(url.get(), CURLUPART_URL, text.c_str(), 0);
      code != CURLUE_OK) {
    return Fail("--app.health-url is not a valid URL (" + std::string(curl_url_strerror(code)) +
                "): give the app's health page, " + kExample);
  }
  const std::string scheme = Part(url.get(), CURLUPART_SCHEME).value_or("");
  if (scheme != "http" && scheme != "https") {
    return Fail("--app.health-url is not an http:// or https:// address (its scheme is " + scheme +
                "): give the app's health page, " + kExample);
  }
  HealthUrl parsed;
  parsed.address = Secret(text);
  const std::optional<std::string> password = Part(url.get(), CURLUPART_PASSWORD);
  if (password) {
    parsed.password_as_written = Secret(*password);
    parsed.password = Secret(Part(url.get(), CURLUPART_PASSWORD, CURLU_URLDECODE).value_or(""));
    if (curl_url_set(url.get(), CURLUPART_PASSWORD, "***", 0) != CURLUE_OK) {
      return Fail("cannot redact --app.health-url: out of memory");
    }
  }
  parsed.redacted = Part(url.get(), CURLUPART_URL).value_or("");
  if (parsed.redacted.empty()) return Fail("cannot redact --app.health-url: out of memory");
  return parsed;
}

}  // namespace caloria
