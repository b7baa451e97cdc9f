#include "core/duration.h"

#include <gtest/gtest.h>

namespace caloria {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;

TEST(Duration, ParsesPrometheusUnits) {
  EXPECT_EQ(ParseDuration("15s"), Duration(seconds(15)));
  EXPECT_EQ(ParseDuration("500ms"), Duration(milliseconds(500)));
  EXPECT_EQ(ParseDuration("26h"), Duration(hours(26)));
  EXPECT_EQ(ParseDuration("7d"), Duration(hours(24 * 7)));
  EXPECT_EQ(ParseDuration("1w"), Duration(hours(24 * 7)));
  EXPECT_EQ(ParseDuration("1y"), Duration(hours(24 * 365)));
}

TEST(Duration, ParsesCompoundDurations) {
  EXPECT_EQ(ParseDuration("1m30s"), Duration(seconds(90)));
  EXPECT_EQ(ParseDuration("1h1m1s1ms"), Duration(milliseconds(3661001)));
}

TEST(Duration, ZeroWithoutUnitIsAccepted) { EXPECT_EQ(ParseDuration("0"), Duration(0)); }

TEST(Duration, RejectsWhatPrometheusRejects) {
  for (const char* bad : {"", "15", "s", "-5s", "1.5s", "5 s", "5S", "1s1m", "1s1s", "abc",
                          "99999999999999999999s", "10x"}) {
    EXPECT_FALSE(ParseDuration(bad).has_value()) << bad;
  }
}

TEST(Duration, FormatsLargestUnitsFirst) {
  EXPECT_EQ(FormatDuration(seconds(90)), "1m30s");
  EXPECT_EQ(FormatDuration(hours(26)), "1d2h");
  EXPECT_EQ(FormatDuration(milliseconds(1500)), "1s500ms");
  EXPECT_EQ(FormatDuration(Duration(0)), "0s");
}

TEST(Duration, FormatThenParseRoundTrips) {
  for (const auto value : {milliseconds(1), milliseconds(61001), milliseconds(86400000 * 8LL)}) {
    EXPECT_EQ(ParseDuration(FormatDuration(value)), value);
  }
}

}  // namespace
}  // namespace caloria
