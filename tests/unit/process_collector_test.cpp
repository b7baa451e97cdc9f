#include "collectors/process_collector.h"

#include <gtest/gtest.h>

namespace caloria {
namespace {

// A real line of /proc/<pid>/stat, with a command name holding ") (".
constexpr const char* kStat =
    "4242 (odd) (name) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 150 0 0 20 0 9 0 5000 "
    "104857600 2560 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0";

TEST(ProcessCollector, ParsesCpuMemoryAndStartTime) {
  const Result<ProcessStat> parsed = ParseProcStat(kStat, 1700000000, 100, 4096);
  ASSERT_TRUE(parsed.ok()) << parsed.error();
  const ProcessStat& stat = *parsed;
  EXPECT_DOUBLE_EQ(stat.cpu_seconds, 4.0);  // (250 + 150) ticks / 100
  EXPECT_DOUBLE_EQ(stat.start_time_seconds, 1700000050.0);
  EXPECT_DOUBLE_EQ(stat.virtual_memory_bytes, 104857600.0);
  EXPECT_DOUBLE_EQ(stat.resident_memory_bytes, 2560.0 * 4096);
}

TEST(ProcessCollector, RejectsTruncatedStat) {
  EXPECT_FALSE(ParseProcStat("4242 (x) S 1 2 3", 0, 100, 4096).ok());
  EXPECT_FALSE(ParseProcStat("", 0, 100, 4096).ok());
  EXPECT_FALSE(ParseProcStat(kStat, 0, 0, 4096).ok());
}

TEST(ProcessCollector, ReportsThisProcess) {
  ProcessCollector collector;
  const CollectorResult result = collector.Collect(Deadline::After(std::chrono::seconds(1)));
  ASSERT_FALSE(result.error.has_value());
  bool saw_rss = false;
  for (const auto& family : result.families) {
    if (family.name == "process_resident_memory_bytes") {
      saw_rss = true;
      EXPECT_GT(family.metric.at(0).gauge.value, 0);
    }
  }
  EXPECT_TRUE(saw_rss);
}

TEST(ProcessCollector, MissingProcIsACollectorError) {
  ProcessCollector collector("/nonexistent/proc/self");
  EXPECT_TRUE(collector.Collect(Deadline::After(std::chrono::seconds(1))).error.has_value());
}

}  // namespace
}  // namespace caloria
