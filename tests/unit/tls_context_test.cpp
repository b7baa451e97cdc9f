#include "http/tls_context.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

// MakeTlsContext against certificates the test makes with the openssl CLI
// (Debian's `openssl`, installed by scripts/install-deps --test); handshakes
// with real clients are in tests/integration/test_web_tls.py.

namespace caloria {
namespace {

namespace fs = std::filesystem;

class TlsContextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("caloria-tls-" + std::to_string(::testing::UnitTest::GetInstance()->random_seed()) +
            "-" + ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    MakeCertificate("a");
    MakeCertificate("b");
  }
  void TearDown() override { fs::remove_all(dir_); }

  void MakeCertificate(const std::string& name) const {
    const std::string command =
        "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 1 "
        "-subj /CN=localhost -keyout " +
        Path(name + ".key") + " -out " + Path(name + ".crt") + " >/dev/null 2>&1";
    ASSERT_EQ(std::system(command.c_str()), 0) << command;
  }

  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

  TlsSettings Settings(const std::string& cert, const std::string& key) const {
    TlsSettings settings;
    settings.cert_file = Path(cert);
    settings.key_file = Path(key);
    return settings;
  }

  fs::path dir_;
};

TEST_F(TlsContextTest, AMatchingCertificateAndKeyMakeAContext) {
  TlsSettings settings = Settings("a.crt", "a.key");
  settings.client_ca_file = Path("b.crt");
  settings.client_auth_type = ClientAuthType::kRequireAndVerifyClientCert;
  settings.min_version = TlsVersion::kTls13;
  const auto context = MakeTlsContext(settings);
  ASSERT_TRUE(context.ok()) << context.error();
  EXPECT_EQ(SSL_CTX_get_min_proto_version((*context)->native_handle()), TLS1_3_VERSION);
}

TEST_F(TlsContextTest, AKeyOfAnotherCertificateIsRefusedWithBothFilesNamed) {
  const auto context = MakeTlsContext(Settings("a.crt", "b.key"));
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.error().find(Path("b.key")), std::string::npos) << context.error();
  EXPECT_NE(context.error().find(Path("a.crt")), std::string::npos) << context.error();
  EXPECT_EQ(context.error().find('\n'), std::string::npos) << context.error();
}

TEST_F(TlsContextTest, MissingOrGarbageFilesAreOneLineErrorsNamingTheFile) {
  std::ofstream(Path("garbage.crt")) << "not a certificate\n";
  for (const auto& [cert, key] : {std::pair{"missing.crt", "a.key"},
                                  {"garbage.crt", "a.key"},
                                  {"a.crt", "missing.key"},
                                  {"a.crt", "a.crt"}}) {
    const auto context = MakeTlsContext(Settings(cert, key));
    ASSERT_FALSE(context.ok()) << cert << " " << key;
    EXPECT_EQ(context.error().find('\n'), std::string::npos) << context.error();
    EXPECT_NE(context.error().find("_file"), std::string::npos) << context.error();
  }
  TlsSettings settings = Settings("a.crt", "a.key");
  settings.client_ca_file = Path("missing-ca.crt");
  const auto context = MakeTlsContext(settings);
  ASSERT_FALSE(context.ok());
  EXPECT_NE(context.error().find("client_ca_file"), std::string::npos) << context.error();
}

TEST_F(TlsContextTest, CipherSuitesTakeGoNamesAndRefuseUnknownOnes) {
  TlsSettings settings = Settings("a.crt", "a.key");
  settings.cipher_suites = {"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
                            "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305"};  // Go's short name
  const auto context = MakeTlsContext(settings);
  ASSERT_TRUE(context.ok()) << context.error();
  settings.cipher_suites = {"TLS_NOT_A_SUITE"};
  const auto refused = MakeTlsContext(settings);
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().find("TLS_NOT_A_SUITE"), std::string::npos) << refused.error();
}

}  // namespace
}  // namespace caloria
