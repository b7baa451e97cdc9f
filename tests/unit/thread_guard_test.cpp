#include "core/thread_guard.h"

#include <gtest/gtest.h>

#include <sstream>
#include <stdexcept>
#include <thread>

namespace caloria {
namespace {

TEST(CatchAll, ReturnsNothingWhenTheBodySucceeds) {
  int runs = 0;
  EXPECT_EQ(CatchAll([&] { ++runs; }), std::nullopt);
  EXPECT_EQ(runs, 1);
}

TEST(CatchAll, ReturnsWhatAStandardExceptionSaid) {
  EXPECT_EQ(CatchAll([] { throw std::runtime_error("boom"); }), "boom");
}

TEST(CatchAll, ReportsAnExceptionOfAnyOtherType) {
  EXPECT_EQ(CatchAll([] { throw 42; }), "unknown error");
}

TEST(RunGuarded, LogsAThrowOnceAndReturnsFalse) {
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  EXPECT_FALSE(RunGuarded(logger, "poll", [] { throw std::logic_error("bad state"); }));
  const std::string text = log.str();
  EXPECT_NE(text.find("level=error"), std::string::npos) << text;
  EXPECT_NE(text.find("in=poll"), std::string::npos) << text;
  EXPECT_NE(text.find("bad state"), std::string::npos) << text;
}

TEST(RunGuarded, SucceedsSilently) {
  std::ostringstream log;
  Logger logger(log, LogLevel::kDebug, LogFormat::kLogfmt);
  EXPECT_TRUE(RunGuarded(logger, "poll", [] {}));
  EXPECT_EQ(log.str(), "");
}

TEST(RunGuarded, KeepsAThreadAliveThroughAThrow) {
  // Without the guard, an exception leaving a std::thread calls std::terminate.
  std::ostringstream log;
  Logger logger(log, LogLevel::kInfo, LogFormat::kLogfmt);
  int after = 0;
  std::thread thread([&] {
    RunGuarded(logger, "worker", [] { throw std::runtime_error("boom"); });
    after = 1;
  });
  thread.join();
  EXPECT_EQ(after, 1);
}

}  // namespace
}  // namespace caloria
