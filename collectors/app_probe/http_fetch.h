#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <string>

#include "collectors/app_probe/health_url.h"
#include "core/deadline.h"
#include "core/result.h"

namespace caloria {

struct HttpFetchOptions {
  // PEM certificates to verify the server with instead of the system's.
  std::optional<std::string> ca_file;
  long max_redirects = 3;
  // A longer body aborts the transfer as soon as it is known to be longer.
  std::size_t max_body_bytes = 64 * 1024;
  std::string user_agent;
};

// An HTTP answer, whatever its status.
struct HttpAnswer {
  long status = 0;
  std::string body;
  std::chrono::duration<double> duration{};  // from the request to the last byte
};

// libcurl's process-wide setup, done once (later calls return the first
// outcome). The exporter calls it while building its collectors, before any
// thread starts; FetchHttp calls it too.
Status InitHttpFetching();

// One GET of `url` under `deadline` (connect, TLS, redirects and body all
// included): http and https only, TLS verified, at most max_redirects
// redirects, the body bounded. An answer with any HTTP status is a value;
// an Error says in one line, without the URL's password, why there was
// none: timeout, refused, TLS, redirect loop, body too big, ...
Result<HttpAnswer> FetchHttp(const HealthUrl& url, const HttpFetchOptions& options,
                             const Deadline& deadline);

}  // namespace caloria
