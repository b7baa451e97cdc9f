#include "config/web_config.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <set>
#include <sstream>
#include <tuple>

#include "config/yaml_document.h"
#include "core/bounded_file.h"
#include "core/unique_handles.h"

namespace caloria {
namespace {

namespace fs = std::filesystem;

// Go's tls.CipherSuites() from Go 1.16 to 1.21, the names exporter-toolkit
// accepts (newer Go lists fewer; an exporter built with it refuses the
// others). Whether the TLS library offers each is the server's business.
constexpr std::array<std::string_view, 19> kCipherSuites = {
    "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA",
    "TLS_RSA_WITH_AES_256_CBC_SHA",
    "TLS_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_AES_128_GCM_SHA256",
    "TLS_AES_256_GCM_SHA384",
    "TLS_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
    "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
};

// Go's tls.InsecureCipherSuites(): the toolkit refuses them as unknown; we
// say why.
constexpr std::array<std::string_view, 6> kInsecureCipherSuites = {
    "TLS_RSA_WITH_RC4_128_SHA",
    "TLS_RSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
    "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
};

// The toolkit's own curve names (web/tls_config.go).
constexpr std::array<std::string_view, 4> kCurves = {"CurveP256", "CurveP384", "CurveP521",
                                                     "X25519"};

// The toolkit's extraHTTPHeaders (web/handler.go): the only headers the
// file may set, and for some the only values.
struct AllowedHeader {
  std::string_view name;
  std::array<std::string_view, 2> values;  // unused slots empty; all empty: any value
};
constexpr std::array<AllowedHeader, 5> kAllowedHeaders = {{
    {"Strict-Transport-Security", {}},
    {"X-Content-Type-Options", {"nosniff"}},
    {"X-Frame-Options", {"deny", "sameorigin"}},
    {"X-XSS-Protection", {}},
    {"Content-Security-Policy", {}},
}};
constexpr std::size_t kMaxHeaderValueBytes = 4096;

// A key the toolkit knows. `unsupported` says why we refuse it and what to
// do instead; null for the keys we read.
struct KnownKey {
  std::string_view name;
  const char* unsupported = nullptr;
};

constexpr std::array<KnownKey, 4> kTopKeys = {{
    {"tls_server_config"},
    {"http_server_config"},
    {"basic_auth_users"},
    {"rate_limit",
     "is not supported by caloria_exporter: remove it (the exporter bounds clients with "
     "--web.max-connections and --web.max-connections-per-ip)"},
}};

constexpr std::array<KnownKey, 13> kTlsKeys = {{
    {"cert_file"},
    {"key_file"},
    {"client_ca_file"},
    {"client_auth_type"},
    {"min_version"},
    {"max_version"},
    {"cipher_suites"},
    {"curve_preferences"},
    {"prefer_server_cipher_suites"},
    {"cert",
     "inline certificates are not supported: put the PEM certificate in a file and name it in "
     "cert_file"},
    {"key",
     "inline keys are not supported: put the PEM key in a file only the exporter may read and "
     "name it in key_file"},
    {"client_ca",
     "inline CA certificates are not supported: put them in a PEM file and name it in "
     "client_ca_file"},
    {"client_allowed_sans",
     "is not supported by caloria_exporter: remove it, and admit only the clients you mean by "
     "giving client_ca_file a CA that signs only their certificates"},
}};

constexpr std::array<KnownKey, 2> kHttpKeys = {{{"headers"}, {"http2"}}};

std::string Joined(const auto& names) {
  std::string text;
  for (const auto& name : names) {
    if (!text.empty()) text += ", ";
    text += name;
  }
  return text;
}

bool Contains(const auto& list, std::string_view value) {
  return std::find(list.begin(), list.end(), value) != list.end();
}

// A value from the file as an error message shows it: one line, bounded,
// and never something that looks like a bcrypt hash.
std::string Shown(std::string_view text) {
  if (text.find('$') != std::string_view::npos) return "(a value holding '$', not shown)";
  constexpr std::size_t kMaxShown = 64;
  std::string shown = "'";
  for (const char c : text.substr(0, kMaxShown)) {
    shown += (c >= 0x20 && c < 0x7f) ? c : '?';
  }
  return shown + (text.size() > kMaxShown ? "...'" : "'");
}

// A key (a user, a header, a section) named in an error only when the name
// is plain, else by its place among its siblings, so that a hash pasted in
// the wrong place, or a line break, is never echoed.
std::string ShownName(const std::string& name, std::size_t index, const char* what) {
  const bool plain = !name.empty() && name.size() <= 64 &&
                     std::all_of(name.begin(), name.end(),
                                 [](char c) { return c > 0x20 && c < 0x7f && c != '$'; });
  return plain ? name
               : "(" + std::string(what) + " " + std::to_string(index + 1) + ", name not shown)";
}

// A path from the file as an error message shows it: as it is, unless it
// holds what Shown() would hide (a hash pasted as a path would otherwise be
// echoed whole) or a line break, which would split the message.
std::string ShownPath(const std::string& path) {
  const bool hidden = std::any_of(path.begin(), path.end(), [](char c) {
    return c == '$' || (c >= 0 && c < 0x20) || c == 0x7f;
  });
  return hidden ? "(a path holding '$' or a control character, not shown)" : path;
}

const char* KindName(const YAML::Node& node) { return YamlKindName(node); }

std::string ErrnoText() { return std::strerror(errno); }

// Parses the document of one file; its messages name the file and the key.
class WebConfigParser {
 public:
  explicit WebConfigParser(const fs::path& file) : file_(file.string()), dir_(file.parent_path()) {}

  Error Bad(const std::string& key, const std::string& problem) const {
    return Fail("--web.config.file " + file_ + ": " + key + ": " + problem);
  }

  Status Parse(const YAML::Node& root, WebConfig& config) const {
    if (!root.IsMap()) {
      return Fail("--web.config.file " + file_ + ": the file is a " + KindName(root) +
                  ", not a mapping: write it as tls_server_config:, http_server_config: and "
                  "basic_auth_users: sections (see deploy/web-config.example.yml)");
    }
    Result<Entries> top = KnownEntries(root, "", kTopKeys);
    if (!top) return Fail(top.error());
    for (const auto& [key, value] : *top) {
      Status section = key == "tls_server_config"    ? ParseTls(value, config)
                       : key == "http_server_config" ? ParseHttp(value, config)
                                                     : ParseUsers(value, config);
      if (!section) return section;
    }
    return {};
  }

 private:
  using Entries = std::vector<std::pair<std::string, YAML::Node>>;

  // The entries of a mapping in file order; each key a single value, none
  // twice (yaml.v2's UnmarshalStrict, which the toolkit uses, refuses
  // repeated keys too).
  Result<Entries> MapEntries(const YAML::Node& map, const std::string& where) const {
    Entries entries;
    std::set<std::string> seen;
    for (const auto& entry : map) {
      if (!entry.first.IsScalar()) {
        return Bad(
            where.empty() ? "the top level" : where,
            std::string("has a key that is a ") + KindName(entry.first) + ": keys are plain names");
      }
      const std::string& key = entry.first.Scalar();
      if (!seen.insert(key).second) {
        return Bad(Child(where, ShownName(key, entries.size(), "key")), "is given twice: keep one");
      }
      entries.emplace_back(key, entry.second);
    }
    return entries;
  }

  // MapEntries, every key one of `known` (strict, as the toolkit: a typo is
  // an error, not an option silently left at its default).
  template <std::size_t N>
  Result<Entries> KnownEntries(const YAML::Node& map, const std::string& where,
                               const std::array<KnownKey, N>& known) const {
    Result<Entries> entries = MapEntries(map, where);
    if (!entries) return entries;
    for (const auto& entry : *entries) {
      const auto rule = std::find_if(known.begin(), known.end(),
                                     [&](const KnownKey& k) { return k.name == entry.first; });
      if (rule == known.end()) {
        std::vector<std::string_view> names;
        for (const KnownKey& k : known) {
          if (k.unsupported == nullptr) names.push_back(k.name);
        }
        return Bad(where.empty() ? "the top level" : where, "unknown key " + Shown(entry.first) +
                                                                ": use " + Joined(names) +
                                                                " (keys are case-sensitive)");
      }
      if (rule->unsupported != nullptr) {
        return Bad(Child(where, entry.first), rule->unsupported);
      }
    }
    return entries;
  }

  static std::string Child(const std::string& where, const std::string& key) {
    return where.empty() ? key : where + "." + key;
  }

  // A single value as text; null (`key:` alone) is empty, as yaml.v2 makes it.
  Result<std::string> Text(const YAML::Node& node, const std::string& key) const {
    if (node.IsNull()) return std::string();
    if (!node.IsScalar()) {
      return Bad(key, std::string("is a ") + KindName(node) + ", not a single value: write `" +
                          key + ": VALUE`");
    }
    return node.Scalar();
  }

  Result<std::vector<std::string>> TextList(const YAML::Node& node, const std::string& key) const {
    std::vector<std::string> items;
    if (node.IsNull()) return items;
    if (!node.IsSequence()) {
      return Bad(key, std::string("is a ") + KindName(node) +
                          ", not a list: write one `- NAME` line per item");
    }
    for (const YAML::Node& item : node) {
      if (!item.IsScalar()) {
        return Bad(key, std::string("holds a ") + KindName(item) + ": list plain names");
      }
      items.push_back(item.Scalar());
    }
    return items;
  }

  // A boolean the toolkit has and we accept but do not act on.
  Status CheckBool(const YAML::Node& node, const std::string& key) const {
    bool ignored = false;
    if (node.IsNull() || (node.IsScalar() && YAML::convert<bool>::decode(node, ignored))) return {};
    return Bad(key, "must be true or false");
  }

  // A path from the file: relative ones are relative to the file's folder
  // (the toolkit's SetDirectory), and it must be a readable file now, so a
  // typo fails at start rather than at the first TLS handshake.
  Result<std::string> ReadablePath(const std::string& text, const std::string& key) const {
    const fs::path given(text);
    const std::string path =
        (given.is_absolute() ? given : dir_ / given).lexically_normal().string();
    const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK));
    if (fd.get() < 0) {
      return Bad(key, "cannot read " + ShownPath(path) + " (" + ErrnoText() +
                          "): fix the path or its permissions (a relative path is relative "
                          "to the web-config file's folder, " +
                          dir_.string() + ")");
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
      return Bad(key, ShownPath(path) + " is not a regular file: name the PEM file itself");
    }
    return path;
  }

  Result<TlsVersion> ParseTlsVersion(const std::string& text, const std::string& key) const {
    for (const TlsVersion version :
         {TlsVersion::kTls10, TlsVersion::kTls11, TlsVersion::kTls12, TlsVersion::kTls13}) {
      if (text == TlsVersionName(version)) return version;
    }
    return Bad(key, Shown(text) + " is not a TLS version: use TLS10, TLS11, TLS12 or TLS13");
  }

  Result<ClientAuthType> ParseClientAuthType(const std::string& text) const {
    for (const ClientAuthType type :
         {ClientAuthType::kNoClientCert, ClientAuthType::kRequestClientCert,
          ClientAuthType::kRequireAnyClientCert, ClientAuthType::kVerifyClientCertIfGiven,
          ClientAuthType::kRequireAndVerifyClientCert}) {
      if (text == ClientAuthTypeName(type)) return type;
    }
    if (text.empty()) return ClientAuthType::kNoClientCert;
    // The toolkit keeps Go's old name for backwards compatibility.
    if (text == "RequireClientCert") return ClientAuthType::kRequireAnyClientCert;
    return Bad("tls_server_config.client_auth_type",
               Shown(text) +
                   " is not a client auth type: use NoClientCert, RequestClientCert, "
                   "RequireAnyClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert");
  }

  Status ParseTls(const YAML::Node& node, WebConfig& config) const {
    const std::string where = "tls_server_config";
    if (node.IsNull() || (node.IsMap() && node.size() == 0)) return {};
    if (!node.IsMap()) {
      return Bad(where, std::string("is a ") + KindName(node) +
                            ", not a mapping: give it cert_file: and key_file: lines");
    }
    Result<Entries> entries = KnownEntries(node, where, kTlsKeys);
    if (!entries) return Fail(entries.error());
    TlsSettings tls;
    std::string cert_file;
    std::string key_file;
    std::string client_ca_file;
    for (const auto& [name, value] : *entries) {
      const std::string key = Child(where, name);
      if (name == "cipher_suites" || name == "curve_preferences") {
        Result<std::vector<std::string>> list = TextList(value, key);
        if (!list) return Fail(list.error());
        Status known =
            name == "cipher_suites" ? CheckCipherSuites(*list, key) : CheckCurves(*list, key);
        if (!known) return known;
        (name == "cipher_suites" ? tls.cipher_suites : tls.curve_preferences) = std::move(*list);
        continue;
      }
      if (name == "prefer_server_cipher_suites") {
        // Go ignores it since 1.18, so the toolkit does too.
        Status boolean = CheckBool(value, key);
        if (!boolean) return boolean;
        continue;
      }
      Result<std::string> text = Text(value, key);
      if (!text) return Fail(text.error());
      if (name == "cert_file") cert_file = *text;
      if (name == "key_file") key_file = *text;
      if (name == "client_ca_file") client_ca_file = *text;
      if (name == "client_auth_type") {
        Result<ClientAuthType> type = ParseClientAuthType(*text);
        if (!type) return Fail(type.error());
        tls.client_auth_type = *type;
      }
      if ((name == "min_version" || name == "max_version") && !text->empty()) {
        Result<TlsVersion> version = ParseTlsVersion(*text, key);
        if (!version) return Fail(version.error());
        if (name == "min_version") tls.min_version = *version;
        if (name == "max_version") tls.max_version = *version;
      }
    }
    Status valid = CheckTlsRules(tls, cert_file, key_file, client_ca_file);
    if (!valid) return valid;

    for (auto [text, field, name] :
         {std::tuple{&cert_file, &tls.cert_file, "cert_file"},
          std::tuple{&key_file, &tls.key_file, "key_file"},
          std::tuple{&client_ca_file, &tls.client_ca_file, "client_ca_file"}}) {
      if (text->empty()) continue;
      Result<std::string> path = ReadablePath(*text, Child(where, name));
      if (!path) return Fail(path.error());
      *field = *path;
      config.files_read.push_back(*path);
    }
    config.tls = std::move(tls);
    return {};
  }

  Status CheckTlsRules(const TlsSettings& tls, const std::string& cert_file,
                       const std::string& key_file, const std::string& client_ca_file) const {
    const std::string where = "tls_server_config";
    // The toolkit serves plain HTTP when none of the certificate keys is
    // set; a tls_server_config that names only versions or ciphers is
    // almost surely meant as HTTPS, so we refuse it instead.
    const char* const both =
        "set both cert_file and key_file to serve HTTPS, or remove tls_server_config to serve "
        "plain HTTP";
    if (cert_file.empty()) return Bad(where + ".cert_file", std::string("is missing: ") + both);
    if (key_file.empty()) return Bad(where + ".key_file", std::string("is missing: ") + both);
    if (!client_ca_file.empty() && tls.client_auth_type == ClientAuthType::kNoClientCert) {
      return Bad(where + ".client_ca_file",
                 "is set but client_auth_type is NoClientCert (the default), so no client "
                 "certificate would be asked for: set client_auth_type: "
                 "RequireAndVerifyClientCert, or remove client_ca_file");
    }
    // Go would verify against the system's roots here, which admits anyone
    // with a certificate from a public CA; we want the CA named.
    if (client_ca_file.empty() &&
        (tls.client_auth_type == ClientAuthType::kVerifyClientCertIfGiven ||
         tls.client_auth_type == ClientAuthType::kRequireAndVerifyClientCert)) {
      return Bad(where + ".client_ca_file",
                 std::string("is missing, and client_auth_type ") +
                     ClientAuthTypeName(tls.client_auth_type) +
                     " verifies client certificates against it: name the PEM file of the CA "
                     "that signs your clients' certificates");
    }
    if (tls.max_version && *tls.max_version < tls.min_version) {
      return Bad(where + ".max_version",
                 std::string(TlsVersionName(*tls.max_version)) + " is below min_version " +
                     TlsVersionName(tls.min_version) + ": raise max_version or lower min_version");
    }
    return {};
  }

  Status CheckCipherSuites(const std::vector<std::string>& names, const std::string& key) const {
    for (const std::string& name : names) {
      if (Contains(kCipherSuites, name)) continue;
      if (Contains(kInsecureCipherSuites, name)) {
        return Bad(key, Shown(name) +
                            " is insecure (Go lists it in InsecureCipherSuites): "
                            "remove it");
      }
      return Bad(key, Shown(name) +
                          " is not a cipher suite Go's crypto/tls offers: use IANA names such "
                          "as TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, or drop cipher_suites");
    }
    return {};
  }

  Status CheckCurves(const std::vector<std::string>& names, const std::string& key) const {
    for (const std::string& name : names) {
      if (!Contains(kCurves, name)) {
        return Bad(key, Shown(name) + " is not a curve: use " + Joined(kCurves));
      }
    }
    return {};
  }

  Status ParseHttp(const YAML::Node& node, WebConfig& config) const {
    const std::string where = "http_server_config";
    if (node.IsNull()) return {};
    if (!node.IsMap()) {
      return Bad(where, std::string("is a ") + KindName(node) +
                            ", not a mapping: give it a headers: section");
    }
    Result<Entries> entries = KnownEntries(node, where, kHttpKeys);
    if (!entries) return Fail(entries.error());
    for (const auto& [name, value] : *entries) {
      // http2: we serve HTTP/1.1 only, so there is nothing to switch off.
      Status part =
          name == "http2" ? CheckBool(value, Child(where, name)) : ParseHeaders(value, config);
      if (!part) return part;
    }
    return {};
  }

  Status ParseHeaders(const YAML::Node& node, WebConfig& config) const {
    const std::string where = "http_server_config.headers";
    if (node.IsNull()) return {};
    if (!node.IsMap()) {
      return Bad(where, std::string("is a ") + KindName(node) +
                            ", not a mapping: write one `Header-Name: value` line per header");
    }
    Result<Entries> entries = MapEntries(node, where);
    if (!entries) return Fail(entries.error());
    for (const auto& [name, value] : *entries) {
      const auto allowed =
          std::find_if(kAllowedHeaders.begin(), kAllowedHeaders.end(),
                       [&name = name](const AllowedHeader& header) { return header.name == name; });
      if (allowed == kAllowedHeaders.end()) {
        std::vector<std::string_view> names;
        names.reserve(kAllowedHeaders.size());
        for (const AllowedHeader& header : kAllowedHeaders) names.push_back(header.name);
        return Bad(where, Shown(name) + " cannot be set here: exporter-toolkit allows only " +
                              Joined(names) + " (case-sensitive)");
      }
      const std::string key = Child(where, name);
      Result<std::string> text = Text(value, key);
      if (!text) return Fail(text.error());
      std::vector<std::string_view> values;
      for (const std::string_view v : allowed->values) {
        if (!v.empty()) values.push_back(v);
      }
      if (!values.empty() && !Contains(values, *text)) {
        return Bad(key, Shown(*text) + " is not allowed: use " + Joined(values));
      }
      const bool control = std::any_of(text->begin(), text->end(), [](char c) {
        return (c >= 0 && c < 0x20 && c != '\t') || c == 0x7f;
      });
      if (control || text->size() > kMaxHeaderValueBytes) {
        return Bad(key,
                   "holds a line break or another control character, or is over 4 KiB: "
                   "write the value on one line");
      }
      if (!text->empty()) config.headers.emplace_back(name, *text);  // blank: unset
    }
    return {};
  }

  static std::string UserKey(const std::string& user, std::size_t index) {
    return "basic_auth_users." + ShownName(user, index, "user");
  }

  Status ParseUsers(const YAML::Node& node, WebConfig& config) const {
    const std::string where = "basic_auth_users";
    if (node.IsNull()) return {};
    if (!node.IsMap()) {
      return Bad(where, std::string("is a ") + KindName(node) +
                            ", not a mapping: write one `user: BCRYPT_HASH` line per user");
    }
    Result<Entries> entries = MapEntries(node, where);
    if (!entries) return Fail(entries.error());
    for (std::size_t i = 0; i < entries->size(); ++i) {
      const auto& [user, hash] = (*entries)[i];
      const std::string key = UserKey(user, i);
      if (user.find(':') != std::string::npos) {
        return Bad(key,
                   "a user name cannot hold ':' (basic auth splits user and password at "
                   "the first one): rename the user");
      }
      if (!hash.IsScalar() || !BcryptHashCost(hash.Scalar())) {
        return Bad(key,
                   "is not a bcrypt hash ($2y$, $2b$ or $2a$, a cost from 04 to 31, then 53 "
                   "characters; the value is not shown): make one with `mkpasswd -m bcrypt -R "
                   "10` or `htpasswd -nBC 10 \"\" | tr -d ':\\n'`");
      }
      config.basic_auth_users.emplace(user, Secret(hash.Scalar()));
    }
    return {};
  }

  std::string file_;
  fs::path dir_;
};

Error WebConfigTooLarge(const std::string& path) {
  return Fail("--web.config.file " + path + ": is larger than " +
              std::to_string(kMaxWebConfigBytes / 1024) +
              " KiB, which no web-config file needs: name the right file (certificates go in "
              "their own files, named by cert_file)");
}

// The file's text, at most kMaxWebConfigBytes, read without blocking on a
// FIFO or a device someone named by mistake.
Result<std::string> ReadWebConfigFile(const std::string& path) {
  Result<std::string> text = ReadBoundedFile(path, kMaxWebConfigBytes);
  if (!text) {
    return Fail("--web.config.file " + path + ": " + text.error() +
                ": check the path (the YAML file itself) and that the exporter's user may read "
                "it");
  }
  if (text->size() > kMaxWebConfigBytes) return WebConfigTooLarge(path);
  return text;
}

// The file's one document (config/yaml_document.h); Null when it holds nothing.
Result<YAML::Node> ParseYaml(const std::string& text, const std::string& path) {
  return ParseYamlDocument(text, {"--web.config.file " + path,
                                  "write tls_server_config:, http_server_config: and "
                                  "basic_auth_users: sections (see deploy/web-config.example.yml)",
                                  "a web-config file is three levels deep at most"});
}

// The last guard on "never a hash in an error": whatever the message came
// to say, the users' hash values are starred out of it. The leading
// "--web.config.file PATH: " is the operator's own flag and stays whole, so
// that a value that happens to be part of the path does not hide the file.
std::string ScrubUserValues(const YAML::Node& root, const std::string& path,
                            const std::string& message) {
  if (!root.IsMap()) return message;
  const YAML::Node users = root["basic_auth_users"];
  if (!users || !users.IsMap()) return message;
  const std::string prefix = "--web.config.file " + path + ": ";
  const std::size_t kept = message.starts_with(prefix) ? prefix.size() : 0;
  std::string rest = message.substr(kept);
  for (const auto& entry : users) {
    if (entry.second.IsScalar()) rest = Secret(entry.second.Scalar()).ScrubFrom(rest);
  }
  return message.substr(0, kept) + rest;
}

}  // namespace

std::optional<int> BcryptHashCost(std::string_view hash) {
  constexpr std::size_t kLength = 60;  // "$2b$" + "10" + "$" + 53
  if (hash.size() != kLength || hash.substr(0, 2) != "$2" || hash[3] != '$' || hash[6] != '$') {
    return std::nullopt;
  }
  if (hash[2] != 'a' && hash[2] != 'b' && hash[2] != 'y') return std::nullopt;
  const auto digit = [](char c) { return c >= '0' && c <= '9'; };
  if (!digit(hash[4]) || !digit(hash[5])) return std::nullopt;
  const int cost = (hash[4] - '0') * 10 + (hash[5] - '0');
  if (cost < 4 || cost > 31) return std::nullopt;
  const bool alphabet = std::all_of(hash.begin() + 7, hash.end(), [&](char c) {
    return digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' || c == '/';
  });
  if (!alphabet) return std::nullopt;
  return cost;
}

Result<WebConfig> LoadWebConfig(const std::string& path) {
  if (path.empty()) return Fail("--web.config.file is empty: give the web-config file's path");
  std::error_code error;
  const fs::path file = fs::absolute(path, error).lexically_normal();
  if (error) {
    return Fail("--web.config.file " + path + ": cannot make the path absolute (" +
                error.message() + "): give an absolute path");
  }
  Result<std::string> text = ReadWebConfigFile(file.string());
  if (!text) return Fail(text.error());
  return ParseWebConfigText(*text, file.string());
}

Result<WebConfig> ParseWebConfigText(const std::string& text, const std::string& path) {
  if (text.size() > kMaxWebConfigBytes) return WebConfigTooLarge(path);
  WebConfig config;
  config.path = path;
  config.files_read.push_back(config.path);

  Result<YAML::Node> root = ParseYaml(text, config.path);
  if (!root) return Fail(root.error());
  if (root->IsNull()) return config;  // an empty file: nothing on, as in the toolkit

  const WebConfigParser parser{fs::path(path)};
  Status parsed;
  try {
    parsed = parser.Parse(*root, config);
  } catch (const YAML::Exception& odd) {
    // The parser checks each node's kind before reading it; this is for the
    // case it missed, told without yaml-cpp's text, which may quote a key.
    parsed =
        Fail("--web.config.file " + config.path +
             ": cannot be read as a web configuration "
             "near line " +
             std::to_string(odd.mark.line + 1) + ": compare it with deploy/web-config.example.yml");
  }
  if (!parsed) return Fail(ScrubUserValues(*root, config.path, parsed.error()));
  return config;
}

const char* ClientAuthTypeName(ClientAuthType type) {
  switch (type) {
    case ClientAuthType::kNoClientCert:
      return "NoClientCert";
    case ClientAuthType::kRequestClientCert:
      return "RequestClientCert";
    case ClientAuthType::kRequireAnyClientCert:
      return "RequireAnyClientCert";
    case ClientAuthType::kVerifyClientCertIfGiven:
      return "VerifyClientCertIfGiven";
    case ClientAuthType::kRequireAndVerifyClientCert:
      return "RequireAndVerifyClientCert";
  }
  return "NoClientCert";
}

const char* TlsVersionName(TlsVersion version) {
  switch (version) {
    case TlsVersion::kTls10:
      return "TLS10";
    case TlsVersion::kTls11:
      return "TLS11";
    case TlsVersion::kTls12:
      return "TLS12";
    case TlsVersion::kTls13:
      return "TLS13";
  }
  return "TLS12";
}

}  // namespace caloria
