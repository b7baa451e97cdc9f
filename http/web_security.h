#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "config/config.h"
#include "core/result.h"
#include "http/basic_auth.h"

namespace caloria {

// What the web-config file asks of every connection and request: TLS (a
// built OpenSSL context), basic auth, and extra response headers. Built
// whole from a WebSettings, so a reload either replaces all of it or
// nothing; immutable once built, shared by the connections that use it.
class WebSecurity {
 public:
  // Loads the certificate and key and checks the users' hashes. The Error is
  // one line naming the file and the fix, never a hash.
  static Result<std::shared_ptr<const WebSecurity>> Build(const WebSettings& settings);

  // Whether this may replace `current` while serving: TLS cannot be switched
  // on or off without a restart (the listening socket speaks one or the
  // other).
  Status CanReplace(const WebSecurity& current) const;

  // Null: plain HTTP.
  const std::shared_ptr<boost::asio::ssl::context>& Tls() const { return tls_; }

  // Whether `path` needs basic auth: users are configured and the path is not
  // exempted by --web.health-without-auth.
  bool NeedsAuth(const std::string& path) const;
  // Null when no users are configured. Slow on a cache miss (bcrypt): call it
  // off the network thread.
  const std::shared_ptr<const BasicAuthenticator>& Authenticator() const { return auth_; }

  // http_server_config.headers, added to every response.
  const std::vector<std::pair<std::string, std::string>>& Headers() const { return headers_; }

 private:
  std::shared_ptr<boost::asio::ssl::context> tls_;
  std::shared_ptr<const BasicAuthenticator> auth_;
  std::vector<std::string> without_auth_;
  std::vector<std::pair<std::string, std::string>> headers_;
};

}  // namespace caloria
