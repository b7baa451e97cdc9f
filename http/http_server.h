#pragma once

#include <functional>
#include <memory>

#include "config/config.h"
#include "config/listen_address.h"
#include "core/logger.h"
#include "core/result.h"
#include "http/router.h"
#include "http/web_security.h"

namespace caloria {

// The one place that knows how HTTP is served: an event-driven server on
// Boost.Beast and Asio (OpenSSL for TLS). One network thread multiplexes
// every connection, so idle, slow or busy clients cost a socket and a few
// KiB each, never a thread a scrape waits for (docs/security.md has the
// measurements that retired CivetWeb). It enforces the limits of
// WebSettings (connections in total and per client address, request and
// idle timeouts, request size), the web config's TLS, basic auth and
// headers, and answers what it cannot parse with 400, 431, 413 or 505.
// Handlers run on the network thread and must only read memory.
class HttpServer {
 public:
  using Handler = std::function<HttpResponse(const HttpRequest&)>;

  // Binds and starts serving, or says in one line (with the fix) why it
  // cannot. A handler that throws (a bug) answers 500.
  static Result<std::unique_ptr<HttpServer>> Start(const ListenAddress& address,
                                                   const WebSettings& settings,
                                                   std::shared_ptr<const WebSecurity> security,
                                                   Handler handler, Logger& logger);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Serves new connections and requests with `security` from now on (a
  // reloaded web config: rotated certificates, changed users or headers),
  // or says why it cannot and keeps the one in force.
  Status UpdateSecurity(std::shared_ptr<const WebSecurity> security);

  struct Impl;                                      // Beast and Asio stay out of this header
  explicit HttpServer(std::unique_ptr<Impl> impl);  // use Start()

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace caloria
