#include "http/basic_auth.h"

#include <crypt.h>
#include <gtest/gtest.h>

#include <array>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "config/web_config.h"
#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::TempDir;
using Users = std::map<std::string, Secret>;

// A bcrypt hash of `password` made the way htpasswd or mkpasswd make one;
// cost 4, the lowest, keeps the tests fast.
std::string Hash(const std::string& password, const char* prefix = "$2y$", int cost = 4) {
  std::array<char, CRYPT_GENSALT_OUTPUT_SIZE> setting{};
  if (crypt_gensalt_rn(prefix, cost, nullptr, 0, setting.data(),
                       static_cast<int>(setting.size())) == nullptr) {
    throw std::runtime_error("crypt_gensalt_rn failed");
  }
  crypt_data data{};
  const char* hash = crypt_rn(password.c_str(), setting.data(), &data, sizeof data);
  if (hash == nullptr) throw std::runtime_error("crypt_rn failed");
  return hash;
}

std::string Base64(const std::string& bytes) {
  static constexpr char kDigits[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::size_t left = bytes.size() - i;
    std::uint32_t bits = static_cast<unsigned char>(bytes[i]) << 16;
    if (left > 1) bits |= static_cast<unsigned char>(bytes[i + 1]) << 8;
    if (left > 2) bits |= static_cast<unsigned char>(bytes[i + 2]);
    out += kDigits[(bits >> 18) & 63];
    out += kDigits[(bits >> 12) & 63];
    out += left > 1 ? kDigits[(bits >> 6) & 63] : '=';
    out += left > 2 ? kDigits[bits & 63] : '=';
  }
  return out;
}

std::string Basic(const std::string& user, const std::string& password) {
  return "Basic " + Base64(user + ":" + password);
}

// One user, alice, with password "secret", hashed at cost 4.
class BasicAuthTest : public ::testing::Test {
 protected:
  BasicAuthenticator auth{Users{{"alice", Secret(Hash("secret"))}}};
};

TEST_F(BasicAuthTest, TheRightPasswordIsAllowed) {
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
  EXPECT_TRUE(auth.Check(Basic("alice", "secret")));
}

TEST_F(BasicAuthTest, AWrongPasswordIsDenied) {
  EXPECT_EQ(auth.Authenticate(Basic("alice", "Secret")), AuthResult::kWrongPassword);
  EXPECT_EQ(auth.Authenticate(Basic("alice", "")), AuthResult::kWrongPassword);
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret ")), AuthResult::kWrongPassword);
  EXPECT_FALSE(auth.Check(Basic("alice", "Secret")));
}

TEST_F(BasicAuthTest, AnUnknownUserIsDeniedAfterTheSameBcryptWork) {
  const std::uint64_t before = auth.bcrypt_runs();
  EXPECT_EQ(auth.Authenticate(Basic("mallory", "secret")), AuthResult::kUnknownUser);
  EXPECT_EQ(auth.Authenticate(Basic("", "secret")), AuthResult::kUnknownUser);
  EXPECT_EQ(auth.Authenticate(Basic("Alice", "secret")), AuthResult::kUnknownUser);
  // One bcrypt each, as for a wrong password: the time does not tell.
  EXPECT_EQ(auth.bcrypt_runs(), before + 3);
}

TEST_F(BasicAuthTest, TheDummyHashCostsWhatTheUsersHashesCost) {
  EXPECT_EQ(auth.dummy_cost(), 4);
  const BasicAuthenticator mixed(
      Users{{"a", Secret(Hash("x", "$2y$", 4))}, {"b", Secret(Hash("y", "$2b$", 6))}});
  EXPECT_EQ(mixed.dummy_cost(), 6);  // the highest
  const BasicAuthenticator nobody(Users{});
  EXPECT_EQ(nobody.dummy_cost(), 10);  // the toolkit's fixed dummy's
  EXPECT_EQ(nobody.Authenticate(Basic("alice", "secret")), AuthResult::kUnknownUser);
}

TEST_F(BasicAuthTest, ThePasswordMayHoldColonsTheUserMayNot) {
  const BasicAuthenticator colons(Users{{"bob", Secret(Hash("a:b:c"))}});
  EXPECT_EQ(colons.Authenticate(Basic("bob", "a:b:c")), AuthResult::kAllowed);
  // "bob:a" and "b:c" is the same header text; it splits at the first colon.
  EXPECT_EQ(colons.Authenticate(Basic("bob:a", "b:c")), AuthResult::kAllowed);
  EXPECT_EQ(colons.Authenticate(Basic("bob", "a:b")), AuthResult::kWrongPassword);
}

TEST_F(BasicAuthTest, EveryBcryptPrefixWorks) {
  for (const char* prefix : {"$2y$", "$2b$", "$2a$"}) {
    const std::string hash = Hash("pw", prefix, 5);
    ASSERT_EQ(hash.substr(0, 4), prefix);
    const BasicAuthenticator one(Users{{"u", Secret(hash)}});
    EXPECT_EQ(one.Authenticate(Basic("u", "pw")), AuthResult::kAllowed) << prefix;
    EXPECT_EQ(one.Authenticate(Basic("u", "pW")), AuthResult::kWrongPassword) << prefix;
    EXPECT_EQ(one.dummy_cost(), 5);
  }
}

TEST_F(BasicAuthTest, TheToolkitsKnownHashWorks) {
  // exporter-toolkit's dummy hash (web/handler.go), of "fakepassword", cost 10.
  const BasicAuthenticator toolkit(
      Users{{"fake", Secret("$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi")}});
  EXPECT_EQ(toolkit.Authenticate(Basic("fake", "fakepassword")), AuthResult::kAllowed);
  EXPECT_EQ(toolkit.Authenticate(Basic("fake", "fakepasswor")), AuthResult::kWrongPassword);
}

TEST_F(BasicAuthTest, ASaltWrittenNonCanonicallyStillMatches) {
  // The salt's last character carries 2 bits; libcrypt writes the others as
  // zero, a hash made elsewhere may not. Only the hash part is compared.
  std::string hash = Hash("secret");
  static constexpr std::string_view kAlphabet =
      "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  hash[28] = kAlphabet[kAlphabet.find(hash[28]) + 1];  // same 2 high bits
  const BasicAuthenticator odd(Users{{"alice", Secret(hash)}});
  EXPECT_EQ(odd.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
}

TEST_F(BasicAuthTest, AHashThatIsNotBcryptNeverMatches) {
  const BasicAuthenticator broken(Users{{"a", Secret("secret")},
                                        {"b", Secret("")},
                                        {"c", Secret(Hash("pw").substr(0, 40))},
                                        {"d", Secret("$1$abcdefgh$0123456789012345678901")}});
  for (const char* user : {"a", "b", "c", "d"}) {
    EXPECT_EQ(broken.Authenticate(Basic(user, "secret")), AuthResult::kWrongPassword) << user;
    EXPECT_EQ(broken.Authenticate(Basic(user, "")), AuthResult::kWrongPassword) << user;
  }
}

TEST_F(BasicAuthTest, NoHeaderIsNoCredentials) {
  EXPECT_EQ(auth.Authenticate(""), AuthResult::kNoCredentials);
  EXPECT_EQ(auth.Authenticate("   \t "), AuthResult::kNoCredentials);
}

TEST_F(BasicAuthTest, TheSchemeIsCaseInsensitiveAndSpacesAroundTheTokenAreFine) {
  const std::string token = Base64("alice:secret");
  for (const std::string& header :
       std::vector<std::string>{"basic " + token, "BASIC " + token, "bAsIc " + token,
                                "Basic   " + token, " Basic " + token + "  "}) {
    EXPECT_EQ(auth.Authenticate(header), AuthResult::kAllowed) << header;
  }
}

TEST_F(BasicAuthTest, AMalformedHeaderIsDeniedWithoutBcrypt) {
  const std::string token = Base64("alice:secret");
  const std::uint64_t before = auth.bcrypt_runs();
  for (const std::string& header : std::vector<std::string>{
           token,                                                 // no scheme
           "Bearer " + token,                                     // another scheme
           "Basic",                                               // no token
           "Basic ",                                              //
           "Basicx " + token,                                     //
           "Basic\t" + token,                                     // the scheme ends at a space
           "Basic " + token + " x",                               // two tokens
           "Basic " + token.substr(1),                            // length not a multiple of 4
           "Basic !!!!",                                          // outside the alphabet
           "Basic YWxp Y2U6",                                     // a space inside
           "Basic YW=pY2U6",                                      // padding inside a group
           "Basic YQ==YQ==",                                      // padding in the middle
           "Basic Y===",                                          // three padding characters
           "Basic YR==",                                          // non-canonical: bits left over
           "Basic YWJj-_8=",                                      // base64url, not base64
           "Basic " + Base64("alicesecret"),                      // no colon
           "Basic " + Base64(std::string("alice:sec\0ret", 13)),  // a NUL in the password
           "Basic " + Base64("alice:" + std::string(10 * 1024, 'x')),  // over 4 KiB
       }) {
    EXPECT_EQ(auth.Authenticate(header), AuthResult::kMalformed) << header.substr(0, 60);
  }
  EXPECT_EQ(auth.bcrypt_runs(), before);
}

TEST_F(BasicAuthTest, AHeaderJustUnderTheLimitIsRead) {
  const std::string password(2800, 'p');  // base64 of "alice:" and it: 3744 characters
  // bcrypt reads 72 bytes of a password, whatever its length, as Go's does.
  const BasicAuthenticator long_password(Users{{"alice", Secret(Hash(password.substr(0, 72)))}});
  const std::string header = Basic("alice", password);
  ASSERT_LE(header.size(), BasicAuthenticator::kMaxHeaderBytes);
  EXPECT_EQ(long_password.Authenticate(header), AuthResult::kAllowed);
  EXPECT_EQ(long_password.Authenticate(Basic("alice", password.substr(0, 72) + "q")),
            AuthResult::kAllowed);
  EXPECT_EQ(long_password.Authenticate(Basic("alice", password.substr(0, 71))),
            AuthResult::kWrongPassword);
}

TEST_F(BasicAuthTest, ARepeatedCheckIsAnsweredFromTheCache) {
  const std::uint64_t start = auth.bcrypt_runs();
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
  EXPECT_EQ(auth.bcrypt_runs(), start + 1);
  // Denials are cached too, as in the toolkit, and keep their reason.
  EXPECT_EQ(auth.Authenticate(Basic("alice", "wrong")), AuthResult::kWrongPassword);
  EXPECT_EQ(auth.Authenticate(Basic("alice", "wrong")), AuthResult::kWrongPassword);
  EXPECT_EQ(auth.Authenticate(Basic("mallory", "secret")), AuthResult::kUnknownUser);
  EXPECT_EQ(auth.Authenticate(Basic("mallory", "secret")), AuthResult::kUnknownUser);
  EXPECT_EQ(auth.bcrypt_runs(), start + 3);
  // Another password is another entry.
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret2")), AuthResult::kWrongPassword);
  EXPECT_EQ(auth.bcrypt_runs(), start + 4);
}

TEST_F(BasicAuthTest, TheCacheIsBoundedAndForgetsTheOldestFirst) {
  const std::uint64_t start = auth.bcrypt_runs();
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
  for (std::size_t i = 0; i < BasicAuthenticator::kCacheEntries; ++i) {
    EXPECT_EQ(auth.Authenticate(Basic("alice", "guess" + std::to_string(i))),
              AuthResult::kWrongPassword);
  }
  const std::uint64_t filled = auth.bcrypt_runs();
  EXPECT_EQ(filled, start + 1 + BasicAuthenticator::kCacheEntries);
  // The newest guess is still there; the first check was pushed out.
  auth.Authenticate(
      Basic("alice", "guess" + std::to_string(BasicAuthenticator::kCacheEntries - 1)));
  EXPECT_EQ(auth.bcrypt_runs(), filled);
  EXPECT_EQ(auth.Authenticate(Basic("alice", "secret")), AuthResult::kAllowed);
  EXPECT_EQ(auth.bcrypt_runs(), filled + 1);
}

TEST_F(BasicAuthTest, ConcurrentChecksAgree) {
  std::vector<std::thread> threads;
  std::array<int, 4> wrong{};
  for (std::size_t t = 0; t < wrong.size(); ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 40; ++i) {
        const bool right = (i + static_cast<int>(t)) % 2 == 0;
        const AuthResult result = auth.Authenticate(Basic("alice", right ? "secret" : "nope"));
        if (result != (right ? AuthResult::kAllowed : AuthResult::kWrongPassword)) ++wrong[t];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(wrong, (std::array<int, 4>{}));
}

// The password documented in deploy/web-config.example.yml opens it.
TEST(BasicAuth, TheShippedExamplesPasswordIsTheDocumentedOne) {
  std::ifstream in(std::string(CALORIA_SOURCE_DIR) + "/deploy/web-config.example.yml");
  std::ostringstream example;
  example << in.rdbuf();
  ASSERT_NE(example.str().find("\"example-password\""), std::string::npos);
  TempDir dir;
  for (const char* name : {"web-config.yml", "server.crt", "server.key"}) {
    std::ofstream(dir.File(name)) << (std::string(name) == "web-config.yml" ? example.str() : "");
  }
  Result<WebConfig> config = LoadWebConfig(dir.File("web-config.yml"));
  ASSERT_TRUE(config) << config.error();
  const BasicAuthenticator auth(config->basic_auth_users);
  EXPECT_EQ(auth.Authenticate(Basic("prometheus", "example-password")), AuthResult::kAllowed);
  EXPECT_EQ(auth.dummy_cost(), 10);
}

TEST(BasicAuth, EveryResultHasAName) {
  for (const AuthResult result :
       {AuthResult::kAllowed, AuthResult::kNoCredentials, AuthResult::kMalformed,
        AuthResult::kUnknownUser, AuthResult::kWrongPassword}) {
    EXPECT_STRNE(AuthResultName(result), "denied");
  }
}

}  // namespace
}  // namespace caloria
