#pragma once

#include <boost/asio/ssl/context.hpp>
#include <memory>

#include "config/web_config.h"
#include "core/result.h"

namespace caloria {

// An OpenSSL server context built from the web-config file's
// tls_server_config, as exporter-toolkit builds Go's tls.Config: the
// certificate chain and key (checked to match), the client CA and
// client_auth_type, min_version and max_version, and cipher_suites (by their
// IANA names, for TLS 1.2 and below; TLS 1.3 suites are not configurable, as
// in Go). An Error names the file or key and the fix in one line.
Result<std::shared_ptr<boost::asio::ssl::context>> MakeTlsContext(const TlsSettings& settings);

}  // namespace caloria
