#include "core/thread_guard.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

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

TEST(GuardedMain, PassesTheArgumentsAfterTheProgramNameAndReturnsTheStatus) {
  char program[] = "prog";
  char first[] = "locate";
  char second[] = "--x=1";
  char* argv[] = {program, first, second, nullptr};
  std::vector<std::string> seen;
  const int status = GuardedMain("prog", 3, argv, [&](std::vector<std::string> args) {
    seen = std::move(args);
    return 2;
  });
  EXPECT_EQ(status, 2);
  EXPECT_EQ(seen, (std::vector<std::string>{"locate", "--x=1"}));
}

TEST(GuardedMain, ReportsABugInOneLineAndFails) {
  char program[] = "prog";
  char* argv[] = {program, nullptr};
  ::testing::internal::CaptureStderr();
  const int status = GuardedMain("prog", 1, argv, [](const std::vector<std::string>&) -> int {
    throw std::logic_error("bad state");
  });
  EXPECT_EQ(::testing::internal::GetCapturedStderr(), "prog: internal error: bad state\n");
  EXPECT_EQ(status, EXIT_FAILURE);
}

}  // namespace
}  // namespace caloria
