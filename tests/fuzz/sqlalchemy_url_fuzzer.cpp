// The SQLAlchemy URL parser (config/sqlalchemy_url), through its public
// interface only: ParseSqlalchemyUrl and Redacted().

#include <algorithm>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <string>

#include "config/sqlalchemy_url.h"
#include "core/secret.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;

// A query option that holds a secret: password, sslpassword, passfile, and
// any other whose name says pass, secret or key, in any case.
bool NamesASecret(std::string key) {
  std::transform(key.begin(), key.end(), key.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return key.find("pass") != std::string::npos || key.find("secret") != std::string::npos ||
         key.find("key") != std::string::npos;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  const caloria::Result<caloria::SqlalchemyUrl> url = caloria::ParseSqlalchemyUrl(text);
  const caloria::Result<caloria::SqlalchemyUrl> again = caloria::ParseSqlalchemyUrl(text);
  Require(url.ok() == again.ok(), "the same URL parsed twice gave different results");
  if (!url) {
    Require(url.error() == again.error(), "the same URL failed twice with different errors");
    Require(!url.error().empty() && url.error().find('\n') == std::string::npos,
            "an error is not one line");
    return 0;
  }
  const std::string redacted = url->Redacted();
  Require(redacted == again->Redacted(), "the same URL was redacted twice differently");

  // Nothing of a secret may be shown: Redacted() must not change when the
  // password, or the value of a query option whose name says pass, secret or
  // key (issue 10), is another one. (Asking only that the password's text is
  // absent would be wrong: "memory:" is in "user memory:***@" when the user
  // name ends with "memory".)
  caloria::SqlalchemyUrl other = *url;
  if (!other.password.empty()) other.password = caloria::Secret("zZ9-other-password");
  for (auto& [key, value] : other.query) {
    if (NamesASecret(key) && !value.empty()) value = "zZ9-other-secret";
  }
  Require(other.Redacted() == redacted, "Redacted() shows a password or a secret query option");
  return 0;
}
