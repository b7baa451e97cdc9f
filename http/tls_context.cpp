#include "http/tls_context.h"

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>

#include <string>

namespace caloria {
namespace {

namespace ssl = boost::asio::ssl;

// OpenSSL's reason for the last failure, one line, without the error queue's
// file and line noise.
std::string OpenSslReason() {
  const unsigned long code = ERR_peek_last_error();  // NOLINT(google-runtime-int): OpenSSL's type
  ERR_clear_error();
  if (code == 0) return "unknown OpenSSL error";
  const char* reason = ERR_reason_error_string(code);
  return reason ? reason : "OpenSSL error " + std::to_string(code);
}

int OpenSslVersion(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return TLS1_VERSION;
    case TlsVersion::kTls11:
      return TLS1_1_VERSION;
    case TlsVersion::kTls12:
      return TLS1_2_VERSION;
    case TlsVersion::kTls13:
      return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// Go and exporter-toolkit name TLS 1.2 suites by their IANA names
// (TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256); OpenSSL by its own
// (ECDHE-RSA-AES128-GCM-SHA256). Looks each name up among every suite this
// OpenSSL knows; Go's short names for the ChaCha20 suites (no _SHA256) too.
Result<std::string> OpenSslCipherList(const std::vector<std::string>& iana_names) {
  std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> all(SSL_CTX_new(TLS_server_method()),
                                                        &SSL_CTX_free);
  if (!all || SSL_CTX_set_cipher_list(all.get(), "ALL:COMPLEMENTOFALL") != 1) {
    return Fail("cannot list OpenSSL's cipher suites: " + OpenSslReason());
  }
  const STACK_OF(SSL_CIPHER)* known = SSL_CTX_get_ciphers(all.get());
  std::string list;
  for (const auto& name : iana_names) {
    const SSL_CIPHER* match = nullptr;
    for (int i = 0; known && i < sk_SSL_CIPHER_num(known) && !match; ++i) {
      const SSL_CIPHER* cipher = sk_SSL_CIPHER_value(known, i);
      const std::string standard = SSL_CIPHER_standard_name(cipher);
      if (standard == name || standard == name + "_SHA256") match = cipher;
    }
    if (!match) {
      return Fail("tls_server_config.cipher_suites names '" + name +
                  "', which this OpenSSL does not offer for TLS 1.2: use IANA names such as "
                  "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, or drop cipher_suites");
    }
    if (!list.empty()) list += ':';
    list += SSL_CIPHER_get_name(match);
  }
  return list;
}

// exporter-toolkit's client_auth_type in OpenSSL's terms. "Request" and
// "RequireAny" ask for a certificate but, as in Go, do not verify it.
void SetClientAuth(ssl::context& context, ClientAuthType type) {
  const auto accept_any = [](bool, ssl::verify_context&) { return true; };
  switch (type) {
    case ClientAuthType::kNoClientCert:
      context.set_verify_mode(ssl::verify_none);
      break;
    case ClientAuthType::kRequestClientCert:
      context.set_verify_mode(ssl::verify_peer);
      context.set_verify_callback(accept_any);
      break;
    case ClientAuthType::kRequireAnyClientCert:
      context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      context.set_verify_callback(accept_any);
      break;
    case ClientAuthType::kVerifyClientCertIfGiven:
      context.set_verify_mode(ssl::verify_peer);
      break;
    case ClientAuthType::kRequireAndVerifyClientCert:
      context.set_verify_mode(ssl::verify_peer | ssl::verify_fail_if_no_peer_cert);
      break;
  }
}

}  // namespace

Result<std::shared_ptr<ssl::context>> MakeTlsContext(const TlsSettings& settings) {
  auto context = std::make_shared<ssl::context>(ssl::context::tls_server);
  SSL_CTX* native = context->native_handle();
  // No renegotiation (a client could make the server do handshakes at will)
  // and no compression (CRIME).
  SSL_CTX_set_options(
      native, SSL_OP_NO_RENEGOTIATION | SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE);
  if (SSL_CTX_set_min_proto_version(native, OpenSslVersion(settings.min_version)) != 1 ||
      (settings.max_version &&
       SSL_CTX_set_max_proto_version(native, OpenSslVersion(*settings.max_version)) != 1)) {
    return Fail("tls_server_config: cannot set min_version/max_version (" + OpenSslReason() +
                "): use TLS12 or TLS13");
  }
  if (SSL_CTX_use_certificate_chain_file(native, settings.cert_file.c_str()) != 1) {
    return Fail("tls_server_config.cert_file " + settings.cert_file +
                " is not a readable PEM certificate (" + OpenSslReason() +
                "): check the path and its permissions");
  }
  if (SSL_CTX_use_PrivateKey_file(native, settings.key_file.c_str(), SSL_FILETYPE_PEM) != 1) {
    if (ERR_GET_REASON(ERR_peek_last_error()) == X509_R_KEY_VALUES_MISMATCH) {
      ERR_clear_error();
      return Fail("tls_server_config.key_file " + settings.key_file +
                  " does not belong to the certificate in " + settings.cert_file +
                  ": give the key the certificate was made for");
    }
    return Fail("tls_server_config.key_file " + settings.key_file +
                " is not a readable PEM private key (" + OpenSslReason() +
                "): check the path and its permissions");
  }
  if (SSL_CTX_check_private_key(native) != 1) {
    return Fail("tls_server_config.key_file " + settings.key_file +
                " does not belong to the certificate in " + settings.cert_file +
                ": give the key the certificate was made for");
  }
  if (!settings.client_ca_file.empty()) {
    if (SSL_CTX_load_verify_locations(native, settings.client_ca_file.c_str(), nullptr) != 1) {
      return Fail("tls_server_config.client_ca_file " + settings.client_ca_file +
                  " is not a readable PEM certificate (" + OpenSslReason() +
                  "): check the path and its permissions");
    }
    // Tells clients which CAs the server accepts, as Go does.
    if (STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(settings.client_ca_file.c_str())) {
      SSL_CTX_set_client_CA_list(native, names);
    }
  }
  SetClientAuth(*context, settings.client_auth_type);
  // Without one, OpenSSL fails a resumed session whenever client
  // certificates are verified.
  static constexpr unsigned char kSessionContext[] = "caloria_exporter";
  SSL_CTX_set_session_id_context(native, kSessionContext, sizeof kSessionContext - 1);
  if (!settings.cipher_suites.empty()) {
    Result<std::string> list = OpenSslCipherList(settings.cipher_suites);
    if (!list) return Fail(list.error());
    if (SSL_CTX_set_cipher_list(native, list->c_str()) != 1) {
      return Fail("tls_server_config.cipher_suites: OpenSSL refuses them (" + OpenSslReason() +
                  "): drop cipher_suites to use the defaults");
    }
  }
  ERR_clear_error();
  return context;
}

}  // namespace caloria
