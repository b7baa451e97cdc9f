#include "config/web_config.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/common/hash_shape.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;

// The toolkit's dummy hash (web/handler.go), of "fakepassword".
constexpr const char* kHash = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

using ::caloria::testing::HoldsAHash;

void Write(const std::string& path, const std::string& text) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// A scratch folder with a web-config file and the PEM files it may name
// (their contents are the TLS server's business, not the parser's).
struct Folder {
  TempDir dir;
  std::string file = dir.File("web.yml");

  Folder() {
    for (const char* name : {"server.crt", "server.key", "ca.crt"}) Write(dir.File(name), "PEM\n");
  }
  Result<WebConfig> Load(const std::string& text) const {
    Write(file, text);
    return LoadWebConfig(file);
  }
  // The error of loading `text`, checked for what every error must be:
  // one line, naming the file, without a hash.
  std::string Error(const std::string& text) const {
    Result<WebConfig> config = Load(text);
    if (config) {
      ADD_FAILURE() << "loaded, but should not have:\n" << text;
      return "";
    }
    const std::string& message = config.error();
    EXPECT_EQ(message.find('\n'), std::string::npos) << message;
    EXPECT_NE(message.find(file), std::string::npos) << message;
    EXPECT_FALSE(HoldsAHash(message)) << message;
    return message;
  }
};

const std::string kTls = "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n";

TEST(WebConfig, ParsingTheTextIsLoadingTheFile) {
  Folder folder;
  const std::string text = kTls + "basic_auth_users:\n  alice: " + kHash + "\n";
  Result<WebConfig> loaded = folder.Load(text);
  Result<WebConfig> parsed = ParseWebConfigText(text, folder.file);
  ASSERT_TRUE(loaded) << loaded.error();
  ASSERT_TRUE(parsed) << parsed.error();
  EXPECT_EQ(parsed->path, loaded->path);
  EXPECT_EQ(parsed->files_read, loaded->files_read);
  EXPECT_EQ(parsed->basic_auth_users, loaded->basic_auth_users);
  ASSERT_TRUE(parsed->tls);
  EXPECT_EQ(parsed->tls->key_file, folder.dir.File("server.key"));

  Result<WebConfig> too_large = ParseWebConfigText(std::string(kMaxWebConfigBytes + 1, '#'), "/x");
  ASSERT_FALSE(too_large);
  EXPECT_NE(too_large.error().find("is larger than 64 KiB"), std::string::npos);
}

TEST(WebConfig, EmptyFileIsAValidConfigWithNothingOn) {
  Folder folder;
  for (const std::string text : {"", "# only a comment\n", "---\n", "\n\n"}) {
    Result<WebConfig> config = folder.Load(text);
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->path, folder.file);
    EXPECT_FALSE(config->tls);
    EXPECT_TRUE(config->basic_auth_users.empty());
    EXPECT_TRUE(config->headers.empty());
    EXPECT_EQ(config->files_read, std::vector<std::string>{folder.file});
  }
}

TEST(WebConfig, EmptySectionsTurnNothingOn) {
  Folder folder;
  Result<WebConfig> config =
      folder.Load("tls_server_config:\nhttp_server_config:\nbasic_auth_users:\n");
  ASSERT_TRUE(config) << config.error();
  config = folder.Load("tls_server_config: {}\nhttp_server_config: {}\nbasic_auth_users: {}\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_FALSE(config->tls);
}

TEST(WebConfig, EveryTlsKeyIsRead) {
  Folder folder;
  Result<WebConfig> config = folder.Load(kTls +
                                         "  client_ca_file: ca.crt\n"
                                         "  client_auth_type: RequireAndVerifyClientCert\n"
                                         "  min_version: TLS13\n"
                                         "  max_version: TLS13\n"
                                         "  cipher_suites:\n"
                                         "    - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                                         "    - TLS_AES_256_GCM_SHA384\n"
                                         "  curve_preferences: [X25519, CurveP256]\n"
                                         "  prefer_server_cipher_suites: false\n");
  ASSERT_TRUE(config) << config.error();
  ASSERT_TRUE(config->tls);
  const TlsSettings& tls = *config->tls;
  EXPECT_EQ(tls.cert_file, folder.dir.File("server.crt"));
  EXPECT_EQ(tls.key_file, folder.dir.File("server.key"));
  EXPECT_EQ(tls.client_ca_file, folder.dir.File("ca.crt"));
  EXPECT_EQ(tls.client_auth_type, ClientAuthType::kRequireAndVerifyClientCert);
  EXPECT_EQ(tls.min_version, TlsVersion::kTls13);
  EXPECT_EQ(tls.max_version, TlsVersion::kTls13);
  EXPECT_EQ(tls.cipher_suites, (std::vector<std::string>{"TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
                                                         "TLS_AES_256_GCM_SHA384"}));
  EXPECT_EQ(tls.curve_preferences, (std::vector<std::string>{"X25519", "CurveP256"}));
}

TEST(WebConfig, TlsDefaultsAreTheToolkits) {
  Folder folder;
  Result<WebConfig> config = folder.Load(kTls);
  ASSERT_TRUE(config) << config.error();
  ASSERT_TRUE(config->tls);
  EXPECT_EQ(config->tls->min_version, TlsVersion::kTls12);
  EXPECT_FALSE(config->tls->max_version);
  EXPECT_EQ(config->tls->client_auth_type, ClientAuthType::kNoClientCert);
  EXPECT_TRUE(config->tls->client_ca_file.empty());
  EXPECT_TRUE(config->tls->cipher_suites.empty());
}

TEST(WebConfig, EveryClientAuthTypeIsKnownByItsToolkitName) {
  Folder folder;
  for (const ClientAuthType type :
       {ClientAuthType::kNoClientCert, ClientAuthType::kRequestClientCert,
        ClientAuthType::kRequireAnyClientCert, ClientAuthType::kVerifyClientCertIfGiven,
        ClientAuthType::kRequireAndVerifyClientCert}) {
    const std::string ca =
        type == ClientAuthType::kNoClientCert ? "" : "  client_ca_file: ca.crt\n";
    Result<WebConfig> config =
        folder.Load(kTls + ca + "  client_auth_type: " + ClientAuthTypeName(type) + "\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->tls->client_auth_type, type) << ClientAuthTypeName(type);
  }
}

TEST(WebConfig, RequireClientCertIsTheToolkitsOldNameForRequireAnyClientCert) {
  Folder folder;
  Result<WebConfig> config = folder.Load(kTls + "  client_auth_type: RequireClientCert\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->tls->client_auth_type, ClientAuthType::kRequireAnyClientCert);
}

TEST(WebConfig, EveryTlsVersionIsKnown) {
  Folder folder;
  for (const TlsVersion version :
       {TlsVersion::kTls10, TlsVersion::kTls11, TlsVersion::kTls12, TlsVersion::kTls13}) {
    Result<WebConfig> config =
        folder.Load(kTls + "  min_version: " + TlsVersionName(version) + "\n");
    ASSERT_TRUE(config) << config.error();
    EXPECT_EQ(config->tls->min_version, version);
  }
}

TEST(WebConfig, RelativePathsAreRelativeToTheFilesFolder) {
  TempDir dir;
  Write(dir.File("etc/certs/server.crt"), "PEM\n");
  Write(dir.File("keys/server.key"), "PEM\n");
  const std::string file = dir.File("etc/web.yml");
  Write(file,
        "tls_server_config:\n  cert_file: certs/server.crt\n  key_file: ../keys/./server.key\n");
  Result<WebConfig> config = LoadWebConfig(file);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->tls->cert_file, dir.File("etc/certs/server.crt"));
  EXPECT_EQ(config->tls->key_file, dir.File("keys/server.key"));
}

TEST(WebConfig, AbsolutePathsStayAsGiven) {
  Folder folder;
  TempDir elsewhere;
  Write(elsewhere.File("server.crt"), "PEM\n");
  Result<WebConfig> config =
      folder.Load("tls_server_config:\n  cert_file: " + elsewhere.File("server.crt") +
                  "\n  key_file: server.key\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->tls->cert_file, elsewhere.File("server.crt"));
}

TEST(WebConfig, FilesReadAreTheFileAndEveryFileItNames) {
  Folder folder;
  Result<WebConfig> config = folder.Load(
      kTls + "  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->files_read,
            (std::vector<std::string>{folder.file, folder.dir.File("server.crt"),
                                      folder.dir.File("server.key"), folder.dir.File("ca.crt")}));
}

TEST(WebConfig, UsersAndTheirHashesAreRead) {
  Folder folder;
  Result<WebConfig> config = folder.Load(std::string("basic_auth_users:\n  alice: ") + kHash +
                                         "\n  bob: \"" + kHash + "\"\n");
  ASSERT_TRUE(config) << config.error();
  ASSERT_EQ(config->basic_auth_users.size(), 2u);
  EXPECT_EQ(config->basic_auth_users.at("alice").Reveal(), kHash);
  EXPECT_EQ(config->basic_auth_users.at("bob").Reveal(), kHash);
}

TEST(WebConfig, AnAliasMayRepeatAHash) {
  Folder folder;
  Result<WebConfig> config =
      folder.Load(std::string("basic_auth_users:\n  alice: &same ") + kHash + "\n  bob: *same\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->basic_auth_users.at("bob").Reveal(), kHash);
}

TEST(WebConfig, TheToolkitsHeadersAreReadInFileOrder) {
  Folder folder;
  // exporter-toolkit's web/testdata/web_config_headers.good.yml
  Result<WebConfig> config = folder.Load(
      "http_server_config:\n"
      "  headers:\n"
      "    X-Frame-Options: deny\n"
      "    Strict-Transport-Security: max-age=31536000; includeSubDomains\n"
      "    X-Content-Type-Options: nosniff\n"
      "    X-XSS-Protection: 1\n"
      "    Content-Security-Policy: \"default-src 'self' *.test.example.net\"\n"
      "  http2: false\n");
  ASSERT_TRUE(config) << config.error();
  using Headers = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(config->headers,
            (Headers{{"X-Frame-Options", "deny"},
                     {"Strict-Transport-Security", "max-age=31536000; includeSubDomains"},
                     {"X-Content-Type-Options", "nosniff"},
                     {"X-XSS-Protection", "1"},
                     {"Content-Security-Policy", "default-src 'self' *.test.example.net"}}));
}

TEST(WebConfig, ABlankHeaderIsLeftOut) {
  Folder folder;
  Result<WebConfig> config = folder.Load(
      "http_server_config:\n  headers:\n    Content-Security-Policy: \"\"\n"
      "    X-XSS-Protection:\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_TRUE(config->headers.empty());
}

TEST(WebConfig, TheToolkitsAllCiphersAndCurvesFilesLoad) {
  Folder folder;
  Result<WebConfig> config =
      folder.Load(kTls +
                  "  client_auth_type: RequestClientCert\n"
                  "  cipher_suites:\n"
                  "  - TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256\n"
                  "  - TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384\n"
                  "  - TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256\n"
                  "  - TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384\n"
                  "  - TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256\n"
                  "  - TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256\n"
                  "  - TLS_AES_128_GCM_SHA256\n"
                  "  - TLS_AES_256_GCM_SHA384\n"
                  "  - TLS_CHACHA20_POLY1305_SHA256\n"
                  "  - TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA\n"
                  "  - TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA\n"
                  "  - TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA\n"
                  "  - TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA\n"
                  "  curve_preferences: [CurveP256, CurveP384, CurveP521, X25519]\n");
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->tls->cipher_suites.size(), 13u);
}

// Every refusal names the key at fault and says what to do.
struct BadCase {
  std::string text;
  std::string says;  // a piece of the message
};

TEST(WebConfig, EveryMistakeIsRefusedWithTheKeyAndTheFix) {
  const std::string users = std::string("basic_auth_users:\n  alice: ") + kHash + "\n";
  const std::vector<BadCase> cases = {
      // the file's shape
      {"just a line of text\n", "not a mapping"},
      {"- tls_server_config\n", "is a list, not a mapping"},
      {"tls_server_config: [a]\n", "tls_server_config: is a list"},
      {"basic_auth_users: alice\n", "basic_auth_users: is a single value"},
      {"http_server_config: 1\n", "http_server_config: is a single value"},
      {"a: 1\n---\nb: 2\n", "holds a second YAML document or stray text at line 2"},
      {", \ntls_server_config: {}\n", "holds a second YAML document or stray text"},
      {",", "stray text"},
      {"!\n", "reads as an empty YAML document"},
      {"null\n", "reads as an empty YAML document"},
      // strict keys, as yaml.v2's UnmarshalStrict
      {"tls_server_config:\n  cert_filse: server.crt\n", "unknown key 'cert_filse'"},
      {"tls_config:\n  cert_file: x\n", "the top level: unknown key 'tls_config'"},
      {"Basic_Auth_Users: {}\n", "case-sensitive"},
      {"http_server_config:\n  header: {}\n", "unknown key 'header'"},
      {kTls + "  cert_file: server.crt\n", "tls_server_config.cert_file: is given twice"},
      {users + "basic_auth_users: {}\n", "basic_auth_users: is given twice"},
      {std::string("basic_auth_users:\n  alice: ") + kHash + "\n  alice: " + kHash + "\n",
       "basic_auth_users.alice: is given twice"},
      {"? [a, b]\n: 1\n", "key that is a list"},
      // what we do not support
      {"rate_limit:\n  interval: 1s\n  burst: 20\n", "rate_limit: is not supported"},
      {"tls_server_config:\n  cert: |\n    PEM\n  key_file: server.key\n",
       "tls_server_config.cert: inline certificates are not supported"},
      {"tls_server_config:\n  cert_file: server.crt\n  key: PEM\n",
       "tls_server_config.key: inline keys are not supported"},
      {kTls + "  client_ca: PEM\n", "tls_server_config.client_ca: inline CA"},
      {kTls + "  client_allowed_sans: [a]\n", "client_allowed_sans: is not supported"},
      // tls_server_config
      {"tls_server_config:\n  key_file: server.key\n", "tls_server_config.cert_file: is missing"},
      {"tls_server_config:\n  cert_file: server.crt\n", "tls_server_config.key_file: is missing"},
      {"tls_server_config:\n  cert_file: \"\"\n  key_file: \"\"\n", "cert_file: is missing"},
      {"tls_server_config:\n  min_version: TLS13\n", "remove tls_server_config to serve plain"},
      {"tls_server_config:\n  cert_file: nothere.crt\n  key_file: server.key\n",
       "tls_server_config.cert_file: cannot read"},
      {"tls_server_config:\n  cert_file: server.crt\n  key_file: nothere.key\n",
       "No such file or directory"},
      {"tls_server_config:\n  cert_file: .\n  key_file: server.key\n", "is not a regular file"},
      {"tls_server_config:\n  cert_file: [server.crt]\n  key_file: server.key\n",
       "tls_server_config.cert_file: is a list, not a single value"},
      {kTls + "  client_auth_type: RequireAndVerify\n", "is not a client auth type"},
      {kTls + "  client_ca_file: ca.crt\n", "client_auth_type is NoClientCert"},
      {kTls + "  client_ca_file: ca.crt\n  client_auth_type: NoClientCert\n",
       "set client_auth_type: RequireAndVerifyClientCert"},
      {kTls + "  client_auth_type: RequireAndVerifyClientCert\n",
       "tls_server_config.client_ca_file: is missing"},
      {kTls + "  client_auth_type: VerifyClientCertIfGiven\n", "client_ca_file: is missing"},
      {kTls + "  client_ca_file: nothere.crt\n  client_auth_type: RequireAndVerifyClientCert\n",
       "tls_server_config.client_ca_file: cannot read"},
      {kTls + "  min_version: TLS14\n", "tls_server_config.min_version: 'TLS14' is not a TLS"},
      {kTls + "  max_version: tls12\n", "use TLS10, TLS11, TLS12 or TLS13"},
      {kTls + "  min_version: TLS13\n  max_version: TLS12\n", "TLS12 is below min_version TLS13"},
      {kTls + "  cipher_suites: [TLS_FOO]\n", "'TLS_FOO' is not a cipher suite"},
      {kTls + "  cipher_suites: [TLS_RSA_WITH_RC4_128_SHA]\n", "is insecure"},
      {kTls + "  cipher_suites: TLS_AES_128_GCM_SHA256\n",
       "cipher_suites: is a single value, not a list"},
      {kTls + "  cipher_suites: [[a]]\n", "cipher_suites: holds a list"},
      {kTls + "  curve_preferences: [P-256]\n", "'P-256' is not a curve"},
      {kTls + "  prefer_server_cipher_suites: maybe\n", "must be true or false"},
      // http_server_config
      {"http_server_config:\n  http2: sometimes\n", "http_server_config.http2: must be true"},
      {"http_server_config:\n  headers:\n    Server: caloria\n", "'Server' cannot be set here"},
      {"http_server_config:\n  headers:\n    x-frame-options: deny\n", "case-sensitive"},
      {"http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
       "X-Frame-Options: 'allow' is not allowed: use deny, sameorigin"},
      {"http_server_config:\n  headers:\n    X-Content-Type-Options: \"\"\n", "use nosniff"},
      {"http_server_config:\n  headers:\n    X-XSS-Protection: \"1\\r\\nSet-Cookie: a=b\"\n",
       "control character"},
      {"http_server_config:\n  headers:\n    Content-Security-Policy: {a: b}\n",
       "is a mapping, not a single value"},
      {"http_server_config:\n  headers: [X-Frame-Options]\n", "headers: is a list"},
      // basic_auth_users
      {"basic_auth_users:\n  john: doe\n", "basic_auth_users.john: is not a bcrypt hash"},
      {"basic_auth_users:\n  john:\n", "basic_auth_users.john: is not a bcrypt hash"},
      {"basic_auth_users:\n  john: [a]\n", "is not a bcrypt hash"},
      {std::string("basic_auth_users:\n  \"a:b\": ") + kHash + "\n", "cannot hold ':'"},
      {"basic_auth_users:\n  - alice\n", "basic_auth_users: is a list, not a mapping"},
  };
  Folder folder;
  for (const BadCase& bad : cases) {
    const std::string message = folder.Error(bad.text);
    EXPECT_NE(message.find(bad.says), std::string::npos)
        << "for:\n"
        << bad.text << "got: " << message << "\nwanted: " << bad.says;
    EXPECT_NE(message.find(": "), std::string::npos) << message;
  }
}

TEST(WebConfig, ABcryptHashIsCheckedForItsShape) {
  const std::string good = kHash;
  EXPECT_EQ(BcryptHashCost(good), 10);
  EXPECT_EQ(BcryptHashCost("$2b$" + good.substr(4)), 10);
  EXPECT_EQ(BcryptHashCost("$2a$" + good.substr(4)), 10);
  EXPECT_EQ(BcryptHashCost("$2y$04$" + good.substr(7)), 4);
  EXPECT_EQ(BcryptHashCost("$2y$31$" + good.substr(7)), 31);
  for (const std::string& bad : {
           "$2x$" + good.substr(4),                     // the buggy variant
           "$2$10$" + good.substr(7),                   // the oldest one
           "$1$" + good.substr(3),                      // md5crypt's prefix
           "$2y$03$" + good.substr(7),                  // cost below 4
           "$2y$32$" + good.substr(7),                  // cost above 31
           "$2y$1$" + good.substr(7),                   // one digit
           "$2y$1a$" + good.substr(7),                  // not a number
           good.substr(0, 59),                          // short
           good + ".",                                  // long
           good.substr(0, 59) + "!",                    // outside bcrypt's alphabet
           good.substr(0, 30) + "+" + good.substr(31),  // standard base64's +, not bcrypt's
           std::string(60, '$'),
           std::string(),
       }) {
    EXPECT_FALSE(BcryptHashCost(bad)) << bad;
  }
}

TEST(WebConfig, AHashInTheWrongPlaceIsNeverEchoed) {
  Folder folder;
  const std::string hash = kHash;
  // Values an error would otherwise quote, and keys it would name.
  for (const std::string& text : {
           "tls_server_config:\n  " + hash + ": x\n",
           hash + ": alice\n",
           "basic_auth_users:\n  \"" + hash + "\": alice\n",
           "basic_auth_users:\n  alice " + hash + ": x\n",
           "basic_auth_users:\n  alice: " + hash.substr(0, 50) + "\n",
           "basic_auth_users:\n  alice: '" + hash + " '\n",
           "basic_auth_users:\n  alice: " + hash + "\nrate_limit: {}\n",
           "http_server_config:\n  headers:\n    X-Frame-Options: " + hash + "\n",
           kTls + "  cipher_suites: [\"" + hash + "\"]\n",
           kTls + "  min_version: \"" + hash + "\"\n",
           kTls + "  client_auth_type: \"" + hash + "\"\n",
           kTls + "  curve_preferences: [\"" + hash + "\"]\n",
           "basic_auth_users:\n  alice: \"" + hash + "\\q\"\n",
       }) {
    const std::string message = folder.Error(text);
    EXPECT_EQ(message.find(hash.substr(7, 20)), std::string::npos) << message;
  }
}

// Found by tests/fuzz/web_config_fuzzer.cpp: a path that cannot be opened
// was quoted whole, so a hash pasted as a path reached the error; a path
// holding a line break split it.
TEST(WebConfig, APathHoldingAHashOrALineBreakIsNotQuoted) {
  Folder folder;
  const std::string hash = kHash;
  for (const std::string& path : {"server.k" + hash + "ey", hash, "\"server.key\\n" + hash + "\"",
                                  std::string("\"a\\nb.crt\"")}) {
    const std::string message =
        folder.Error("tls_server_config:\n  cert_file: server.crt\n  key_file: " + path + "\n");
    EXPECT_NE(message.find("tls_server_config.key_file: cannot read (a path holding"),
              std::string::npos)
        << message;
  }
  // A plain path is still named, to be fixed.
  const std::string message =
      folder.Error("tls_server_config:\n  cert_file: server.crt\n  key_file: server.kez\n");
  EXPECT_NE(message.find(folder.dir.File("server.kez")), std::string::npos) << message;
}

// Found by tests/fuzz/web_config_fuzzer.cpp: a user's value that is part of
// the file's path was starred out of the path too, so the error no longer
// named the file.
TEST(WebConfig, AUserValueInTheFilesPathLeavesThePathWhole) {
  Folder folder;
  const std::string part = folder.dir.Path().substr(folder.dir.Path().size() - 8);
  const std::string message =
      folder.Error("basic_auth_users:\n  alice: \"" + part + "\"\n  alice: " + kHash + "\n");
  EXPECT_NE(message.find("is given twice"), std::string::npos) << message;
}

// Found by tests/fuzz/web_config_fuzzer.cpp: a key given twice was named as
// written, so a hash pasted as a user name, twice, reached the error.
TEST(WebConfig, AKeyGivenTwiceIsNamedOnlyWhenPlain) {
  Folder folder;
  const std::string hash = kHash;
  for (const std::string& text :
       {"basic_auth_users:\n  " + hash + ": x\n  " + hash + ": x\n",
        std::string("basic_auth_users:\n  \"a\\nb\": x\n  \"a\\nb\": x\n")}) {
    const std::string message = folder.Error(text);
    EXPECT_NE(message.find("basic_auth_users.(key 2, name not shown): is given twice"),
              std::string::npos)
        << message;
  }
  const std::string message =
      folder.Error("basic_auth_users:\n  alice: " + hash + "\n  alice: " + hash + "\n");
  EXPECT_NE(message.find("basic_auth_users.alice: is given twice"), std::string::npos) << message;
}

TEST(WebConfig, TheFileItselfMustBeAReadableRegularFileOfBoundedSize) {
  TempDir dir;
  Result<WebConfig> missing = LoadWebConfig(dir.File("nothere.yml"));
  ASSERT_FALSE(missing);
  EXPECT_NE(missing.error().find("cannot be opened (No such file or directory)"), std::string::npos)
      << missing.error();

  Result<WebConfig> folder = LoadWebConfig(dir.Path());
  ASSERT_FALSE(folder);
  EXPECT_NE(folder.error().find("is not a regular file"), std::string::npos) << folder.error();

  // A FIFO would block a plain open() until a writer came.
  const std::string fifo = dir.File("fifo.yml");
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  Result<WebConfig> pipe = LoadWebConfig(fifo);
  ASSERT_FALSE(pipe);
  EXPECT_NE(pipe.error().find("is not a regular file"), std::string::npos) << pipe.error();

  Result<WebConfig> empty_path = LoadWebConfig("");
  ASSERT_FALSE(empty_path);
  EXPECT_NE(empty_path.error().find("--web.config.file is empty"), std::string::npos);
}

TEST(WebConfig, AFileOverTheLimitIsRefusedBeforeItIsParsed) {
  Folder folder;
  std::string at_limit(kMaxWebConfigBytes, '#');
  at_limit[kMaxWebConfigBytes - 1] = '\n';
  Result<WebConfig> fits = folder.Load(at_limit);
  EXPECT_TRUE(fits) << fits.error();

  const std::string message = folder.Error(at_limit + "#");
  EXPECT_NE(message.find("is larger than 64 KiB"), std::string::npos) << message;
}

TEST(WebConfig, DeepNestingIsRefusedWithoutCrashing) {
  Folder folder;
  for (const std::string& deep :
       {std::string(10000, '['), std::string(10000, '[') + std::string(10000, ']'),
        std::string(10000, '{'), "a: " + std::string(10000, '['), [] {
          std::string dashes;
          for (int i = 0; i < 10000; ++i) dashes += "- ";
          return dashes + "x";
        }()}) {
    const std::string message = folder.Error(deep);
    EXPECT_TRUE(message.find("nests deeper than") != std::string::npos ||
                message.find("not valid YAML") != std::string::npos)
        << message;
  }
}

TEST(WebConfig, MalformedYamlIsOneLineWithItsPlace) {
  Folder folder;
  const std::vector<BadCase> cases = {
      {"tls_server_config:\n\tcert_file: server.crt\n", "not valid YAML at line 2"},
      {"basic_auth_users: {alice: x\n", "not valid YAML"},
      {"basic_auth_users: *nowhere\n", "not valid YAML"},
      {"a: &x 1\nb: &x 2\nc: *y\n", "not valid YAML"},
      {"tls_server_config:\n  cert_file: a\n key_file: b\n", "not valid YAML"},
      {"basic_auth_users:\n  alice: \"\\q\"\n", "not valid YAML"},
      {"%YAML 9.9\n---\na: 1\n", "not valid YAML"},
      {"!!binary x: 1\n]]]\n", "not valid YAML"},
  };
  for (const BadCase& bad : cases) {
    const std::string message = folder.Error(bad.text);
    EXPECT_NE(message.find(bad.says), std::string::npos) << bad.text << " -> " << message;
  }
}

// Random bytes and random damage to a good file: each load ends in a
// config or a one-line error, never a crash, a hang or an exception.
TEST(WebConfig, GarbageNeverCrashes) {
  Folder folder;
  const std::string good =
      kTls + "  client_ca_file: ca.crt\n  client_auth_type: " +
      "RequireAndVerifyClientCert\n  cipher_suites: [TLS_AES_128_GCM_SHA256]\n" +
      "basic_auth_users:\n  alice: " + kHash +
      "\nhttp_server_config:\n  headers: {X-Frame-Options: deny}\n";
  ASSERT_TRUE(folder.Load(good));
  std::mt19937 random(20240601);  // fixed: a failure must replay
  static constexpr char kAlphabet[] = "[]{}:-,&*!|>'\"#%@` \t\n\r\\?abc$2y\0\xff";
  const std::string alphabet(kAlphabet, sizeof kAlphabet - 1);  // the NUL included
  for (int round = 0; round < 400; ++round) {
    std::string text;
    if (round % 2 == 0) {
      text = good;
      for (int edits = 1 + static_cast<int>(random() % 4); edits > 0; --edits) {
        const std::size_t at = random() % text.size();
        text[at] = alphabet[random() % alphabet.size()];
      }
    } else {
      text.resize(random() % 300);
      for (char& c : text) c = static_cast<char>(random() % 256);
    }
    Write(folder.file, text);
    Result<WebConfig> config = LoadWebConfig(folder.file);
    if (!config) {
      EXPECT_EQ(config.error().find('\n'), std::string::npos) << config.error();
      EXPECT_FALSE(HoldsAHash(config.error())) << config.error();
    }
  }
}

// deploy/web-config.example.yml, copied beside stand-ins for the files it
// names, loads; with its client-certificate lines switched on, too.
TEST(WebConfig, TheShippedExampleLoads) {
  const std::string example =
      ReadText(std::string(CALORIA_SOURCE_DIR) + "/deploy/web-config.example.yml");
  ASSERT_FALSE(example.empty());
  TempDir dir;
  for (const char* name : {"server.crt", "server.key", "clients-ca.crt"}) {
    Write(dir.File(name), "PEM\n");
  }
  const std::string file = dir.File("web-config.yml");
  Write(file, example);
  Result<WebConfig> config = LoadWebConfig(file);
  ASSERT_TRUE(config) << config.error();
  ASSERT_TRUE(config->tls);
  EXPECT_EQ(config->tls->client_auth_type, ClientAuthType::kNoClientCert);
  EXPECT_EQ(config->basic_auth_users.count("prometheus"), 1u);
  EXPECT_FALSE(config->headers.empty());

  std::string with_clients = example;
  for (const std::string key : {"client_auth_type:", "client_ca_file:"}) {
    const std::size_t at = with_clients.find("# " + key);
    ASSERT_NE(at, std::string::npos) << key;
    with_clients.erase(at, 2);
  }
  Write(file, with_clients);
  config = LoadWebConfig(file);
  ASSERT_TRUE(config) << config.error();
  EXPECT_EQ(config->tls->client_auth_type, ClientAuthType::kRequireAndVerifyClientCert);
  EXPECT_EQ(config->tls->client_ca_file, dir.File("clients-ca.crt"));
}

}  // namespace
}  // namespace caloria
