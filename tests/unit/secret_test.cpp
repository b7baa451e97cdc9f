#include "core/secret.h"

#include <gtest/gtest.h>

#include <sstream>
#include <string>

namespace caloria {
namespace {

TEST(Secret, PrintsAsStarsAndRevealsOnlyOnRequest) {
  const Secret secret("S3cr@tPa55");
  std::ostringstream out;
  out << secret;
  EXPECT_EQ(out.str(), "***");
  EXPECT_EQ(secret.Reveal(), "S3cr@tPa55");
  std::ostringstream empty;
  empty << Secret();
  EXPECT_EQ(empty.str(), "");
}

TEST(Secret, ScrubFromReplacesEveryWholeOccurrence) {
  EXPECT_EQ(Secret("hunter22").ScrubFrom("a hunter22 b hunter22"), "a *** b ***");
  EXPECT_EQ(Secret("abc").ScrubFrom("abc"), "abc");  // too short to scrub
}

TEST(SecretFragments, HidesEveryPieceOfFourCharacters) {
  SecretFragments fragments;
  fragments.Add("S3cr@tPa55/x:y%z");
  // libpq quotes the host name an unencoded '@' made of the password's tail.
  EXPECT_EQ(fragments.ScrubFrom("could not translate host name \"tPa55/x:y%z@127.0.0.1\""),
            "could not translate host name \"***@127.0.0.1\"");
  EXPECT_EQ(fragments.ScrubFrom("host \"Pa55\" and \"S3cr\""), "host \"***\" and \"***\"");
}

TEST(SecretFragments, OverlappingAndAdjacentPiecesBecomeOneRunOfStars) {
  SecretFragments fragments;
  fragments.Add("abcdefgh");
  fragments.Add("12345678");
  // The stars do not tell how long the hidden text was.
  EXPECT_EQ(fragments.ScrubFrom("[abcdefgh12345678]"), "[***]");
  EXPECT_EQ(fragments.ScrubFrom("[bcde]"), "[***]");
}

TEST(SecretFragments, ComparesIgnoringAsciiCase) {
  SecretFragments fragments;
  fragments.Add("S3cr%40tPa55");
  EXPECT_EQ(fragments.ScrubFrom("host s3CR%40TPA55 down"), "host *** down");
}

TEST(SecretFragments, ShorterPiecesAndOtherTextAreLeftAlone) {
  SecretFragments fragments;
  fragments.Add("abc");
  EXPECT_TRUE(fragments.empty());
  fragments.Add("S3cr@tPa55");
  EXPECT_FALSE(fragments.empty());
  EXPECT_EQ(fragments.ScrubFrom("password authentication failed for user \"caloria\""),
            "password authentication failed for user \"caloria\"");
  EXPECT_EQ(fragments.ScrubFrom("S3c"), "S3c");
  EXPECT_EQ(fragments.ScrubFrom(""), "");
}

TEST(SecretFragments, EmptyFragmentsLeaveTheTextAsItIs) {
  const SecretFragments none;
  EXPECT_EQ(none.ScrubFrom("S3cr@tPa55"), "S3cr@tPa55");
}

}  // namespace
}  // namespace caloria
