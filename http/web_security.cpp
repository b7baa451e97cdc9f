#include "http/web_security.h"

#include <algorithm>

#include "http/tls_context.h"

namespace caloria {

Result<std::shared_ptr<const WebSecurity>> WebSecurity::Build(const WebSettings& settings) {
  auto security = std::make_shared<WebSecurity>();
  const WebConfig& config = settings.config;
  if (config.tls) {
    Result<std::shared_ptr<boost::asio::ssl::context>> tls = MakeTlsContext(*config.tls);
    if (!tls) return Fail(config.path + ": " + tls.error());
    security->tls_ = std::move(*tls);
  }
  if (!config.basic_auth_users.empty()) {
    security->auth_ = std::make_shared<const BasicAuthenticator>(config.basic_auth_users);
  }
  security->without_auth_ = settings.health_without_auth;
  security->headers_ = config.headers;
  return std::shared_ptr<const WebSecurity>(std::move(security));
}

Status WebSecurity::CanReplace(const WebSecurity& current) const {
  if (static_cast<bool>(tls_) != static_cast<bool>(current.tls_)) {
    return Fail(std::string("the new web config turns TLS ") + (tls_ ? "on" : "off") +
                ", which needs a restart: restart the exporter, or keep tls_server_config " +
                (current.tls_ ? "in" : "out of") + " the file");
  }
  return {};
}

bool WebSecurity::NeedsAuth(const std::string& path) const {
  return auth_ &&
         std::find(without_auth_.begin(), without_auth_.end(), path) == without_auth_.end();
}

}  // namespace caloria
