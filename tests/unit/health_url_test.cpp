#include "collectors/app_probe/health_url.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

HealthUrl Parsed(const std::string& text) {
  Result<HealthUrl> url = ParseHealthUrl(text);
  EXPECT_TRUE(url.ok()) << text << ": " << (url ? "" : url.error());
  return url ? *url : HealthUrl{};
}

TEST(ParseHealthUrl, APlainUrlIsShownAsGiven) {
  const HealthUrl url = Parsed("https://caloria.example/health/database");
  EXPECT_EQ(url.address.Reveal(), "https://caloria.example/health/database");
  EXPECT_EQ(url.redacted, "https://caloria.example/health/database");
  EXPECT_TRUE(url.password.empty());
}

TEST(ParseHealthUrl, ThePasswordIsRedactedAndKeptForScrubbing) {
  const HealthUrl url = Parsed("https://monitor:s%40fe-Pass@caloria.example:8443/health/database");
  EXPECT_EQ(url.redacted, "https://monitor:***@caloria.example:8443/health/database");
  EXPECT_EQ(url.address.Reveal(),
            "https://monitor:s%40fe-Pass@caloria.example:8443/health/database");
  EXPECT_EQ(url.password.Reveal(), "s@fe-Pass");
  EXPECT_EQ(url.Scrub("echo s@fe-Pass and s%40fe-Pass"), "echo *** and ***");
}

TEST(ParseHealthUrl, AUserWithoutPasswordIsShown) {
  EXPECT_EQ(Parsed("http://monitor@127.0.0.1:5000/health").redacted,
            "http://monitor@127.0.0.1:5000/health");
  EXPECT_EQ(Parsed("http://:secret-pw@127.0.0.1/health").redacted, "http://:***@127.0.0.1/health");
}

TEST(ParseHealthUrl, TheSchemeIsReadInAnyCase) {
  EXPECT_EQ(Parsed("HTTPS://Caloria.Example/health/database").redacted.rfind("https://", 0), 0u);
  EXPECT_EQ(Parsed("Http://127.0.0.1/").redacted, "http://127.0.0.1/");
}

TEST(ParseHealthUrl, OnlyHttpAndHttpsAreAccepted) {
  for (const std::string text : {"ftp://caloria.example/x", "file:///etc/passwd", "gopher://x/",
                                 "javascript:alert(1)", "caloria.example/health/database"}) {
    SCOPED_TRACE(text);
    Result<HealthUrl> url = ParseHealthUrl(text);
    ASSERT_FALSE(url.ok());
    EXPECT_TRUE(Contains(url.error(), "--app.health-url")) << url.error();
    EXPECT_TRUE(Contains(url.error(), "e.g. https://")) << url.error();
  }
}

TEST(ParseHealthUrl, MalformedUrlsAreErrors) {
  for (const std::string& text :
       {std::string(), std::string("https://"), std::string("http://host:99999/"),
        std::string("http://a b/"), "https://" + std::string(3000, 'a') + ".example/"}) {
    SCOPED_TRACE(text);
    EXPECT_FALSE(ParseHealthUrl(text).ok());
  }
}

TEST(ParseHealthUrl, AStrayAtIsRefusedWithoutQuotingTheUrl) {
  // A raw '@' or '/' in the password: libcurl would take part of the password
  // as the host or the path.
  for (const std::string text : {"https://monitor:p@ss-word-1@caloria.example/health",
                                 "https://monitor:S3cr3t:P@ss/w%rd!@caloria.example/health",
                                 "https://monitor:12/ss-word-1@caloria.example/health",
                                 "https://monitor:12?ss-word-1@caloria.example/health"}) {
    SCOPED_TRACE(text);
    Result<HealthUrl> url = ParseHealthUrl(text);
    ASSERT_FALSE(url.ok());
    EXPECT_TRUE(Contains(url.error(), "%40")) << url.error();
    EXPECT_FALSE(Contains(url.error(), "ss-word")) << url.error();
    EXPECT_FALSE(Contains(url.error(), "ss/w")) << url.error();
  }
}

TEST(ParseHealthUrl, ErrorsNeverQuoteThePassword) {
  for (const std::string text :
       {"ftp://monitor:Secret-Pw-1@caloria.example/", "https://monitor:Secret-Pw-1@:99999/",
        "https://monitor:Secret-Pw-1@ca loria/"}) {
    SCOPED_TRACE(text);
    Result<HealthUrl> url = ParseHealthUrl(text);
    ASSERT_FALSE(url.ok());
    EXPECT_FALSE(Contains(url.error(), "Secret-Pw-1")) << url.error();
  }
}

}  // namespace
}  // namespace caloria
