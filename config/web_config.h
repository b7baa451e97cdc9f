#pragma once

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"
#include "core/secret.h"

namespace caloria {

// exporter-toolkit's client_auth_type, weakest first.
enum class ClientAuthType {
  kNoClientCert,
  kRequestClientCert,
  kRequireAnyClientCert,
  kVerifyClientCertIfGiven,
  kRequireAndVerifyClientCert,
};

enum class TlsVersion { kTls10, kTls11, kTls12, kTls13 };

// tls_server_config of the web-config file: paths, not contents; the server
// loads (and reloads) the certificate and keys.
struct TlsSettings {
  std::string cert_file;       // absolute
  std::string key_file;        // absolute
  std::string client_ca_file;  // absolute; empty: no client CA
  ClientAuthType client_auth_type = ClientAuthType::kNoClientCert;
  TlsVersion min_version = TlsVersion::kTls12;
  std::optional<TlsVersion> max_version;   // empty: TLS13, the toolkit's default
  std::vector<std::string> cipher_suites;  // IANA names as Go writes them; empty: the library's
  // Go's names (CurveP256, CurveP384, CurveP521, X25519), in preference
  // order; empty: the library's.
  std::vector<std::string> curve_preferences;
};

// The exporter-toolkit web configuration file (--web.config.file), the YAML
// Prometheus and every official exporter read:
//   tls_server_config: {cert_file, key_file, client_ca_file, client_auth_type,
//                       min_version, max_version, cipher_suites,
//                       curve_preferences, prefer_server_cipher_suites}
//   http_server_config: {headers: {NAME: VALUE}, http2}
//   basic_auth_users: {USER: BCRYPT_HASH}
// What differs from exporter-toolkit is in docs/security.md.
struct WebConfig {
  std::string path;  // the file, absolute; empty when no --web.config.file was given
  std::optional<TlsSettings> tls;
  std::map<std::string, Secret> basic_auth_users;  // user -> bcrypt hash ($2a$, $2b$, $2y$)
  // Added to every response, in file order; a blank value is left out.
  std::vector<std::pair<std::string, std::string>> headers;
  // The web-config file and every file it names (certificate, key, client
  // CA), absolute: the config reloader watches them, so a rotated
  // certificate is picked up without a restart.
  std::vector<std::string> files_read;
};

// A web-config file holds a few users and paths; anything larger is refused
// before it is parsed (1 MiB of YAML costs yaml-cpp about 250 MB of nodes).
inline constexpr std::size_t kMaxWebConfigBytes = 64 * 1024;

// Reads and validates the file; relative paths in it are relative to its
// folder. An empty file is a valid configuration with nothing on. An Error
// names the file, the key and the fix, in one line, and never holds a hash.
Result<WebConfig> LoadWebConfig(const std::string& path);

// What LoadWebConfig does once it has read the file: `text` is the file's
// content, `path` where it was read from (absolute: messages name it, and
// the paths in it are relative to its folder). Apart from the reading so
// that the fuzzer (tests/fuzz/) reaches it without a file per input.
Result<WebConfig> ParseWebConfigText(const std::string& text, const std::string& path);

// The cost of a bcrypt hash written as $2a$, $2b$ or $2y$, a two-digit cost
// from 04 to 31 and 53 characters of bcrypt's base64 (22 of salt, 31 of
// hash); nullopt when `hash` is not one.
std::optional<int> BcryptHashCost(std::string_view hash);

const char* ClientAuthTypeName(ClientAuthType type);
const char* TlsVersionName(TlsVersion version);

}  // namespace caloria
