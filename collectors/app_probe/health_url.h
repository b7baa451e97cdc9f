#pragma once

#include <string>

#include "core/result.h"
#include "core/secret.h"

namespace caloria {

// --app.health-url: the http:// or https:// address of the app's own health
// page, read by libcurl's URL parser so that what is checked, shown and
// fetched is one reading of it. It may carry user:password@ for basic
// authentication, so the address itself is a Secret; logs, metrics, pages
// and messages show only `redacted`.
struct HealthUrl {
  Secret address;              // as given: for libcurl alone
  std::string redacted;        // normalized by libcurl, the password replaced by ***
  Secret password;             // percent-decoded; empty when there is none
  Secret password_as_written;  // percent-encoded, as in `address`

  // `text` with the password, as written and decoded, replaced by ***.
  std::string Scrub(std::string text) const;
};

// Parses and checks --app.health-url: http or https, a host, a valid port,
// and no '@' beyond the one ending the user info (a raw '@', '/', '?' or '#'
// in a password would move the host into the password, or the password into
// the path, where no redaction could find it). Errors never quote the URL.
Result<HealthUrl> ParseHealthUrl(const std::string& text);

}  // namespace caloria
