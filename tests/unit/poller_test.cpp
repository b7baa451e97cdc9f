#include "poll/poller.h"

#include <gtest/gtest.h>

#include <atomic>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "render/page_store.h"

namespace caloria {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

// A collector that counts its runs and can be told to fail or throw.
class CountingCollector : public Collector {
 public:
  enum class Mode { kSucceed, kFail, kThrow };
  explicit CountingCollector(std::atomic<int>& runs, Mode mode = Mode::kSucceed)
      : runs_(runs), mode_(mode) {}

  std::string Name() const override { return "counting"; }
  CollectorResult Collect(const Deadline&) override {
    ++runs_;
    if (mode_ == Mode::kThrow) throw std::runtime_error("boom");
    CollectorResult result;
    result.families.push_back(SingleGauge("caloria_test_runs", "Runs.", runs_.load()));
    if (mode_ == Mode::kFail) result.error = "source unreachable";
    return result;
  }

 private:
  std::atomic<int>& runs_;
  Mode mode_;
};

struct Harness {
  std::ostringstream log;
  Logger logger{log, LogLevel::kDebug, LogFormat::kLogfmt};
  PageStore store;
  Poller poller;

  explicit Harness(Duration interval)
      : poller(
            interval, milliseconds(100), BuildInfo{"1", "r"},
            [this](const Snapshot& snapshot) {
              Pages pages;
              pages.taken_at = snapshot.taken_at;
              for (const auto& family : snapshot.families) pages.metrics.body += family.name + "\n";
              store.Publish(std::make_shared<const Pages>(std::move(pages)));
            },
            logger) {}
};

bool WaitFor(const std::function<bool()>& done, milliseconds limit) {
  const auto give_up = std::chrono::steady_clock::now() + limit;
  while (!done()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return true;
}

TEST(Poller, PollOncePublishesPagesFromEveryCollector) {
  Harness h(seconds(60));
  std::atomic<int> runs{0};
  h.poller.Add(std::make_unique<CountingCollector>(runs));
  EXPECT_EQ(h.store.Latest(), nullptr);
  h.poller.PollOnce();
  ASSERT_NE(h.store.Latest(), nullptr);
  EXPECT_NE(h.store.Latest()->metrics.body.find("caloria_test_runs"), std::string::npos);
  EXPECT_EQ(runs, 1);
}

TEST(Poller, ThrowingCollectorCostsOneRunNotTheDaemon) {
  Harness h(seconds(60));
  std::atomic<int> runs{0};
  h.poller.Add(std::make_unique<CountingCollector>(runs, CountingCollector::Mode::kThrow));
  EXPECT_NO_THROW(h.poller.PollOnce());
  ASSERT_NE(h.store.Latest(), nullptr);
  EXPECT_NE(h.log.str().find("collector threw: boom"), std::string::npos);
}

TEST(Poller, AFailureIsLoggedOnceNotAtEveryPoll) {
  Harness h(seconds(60));
  std::atomic<int> runs{0};
  h.poller.Add(std::make_unique<CountingCollector>(runs, CountingCollector::Mode::kFail));
  for (int i = 0; i < 3; ++i) h.poller.PollOnce();
  const std::string log = h.log.str();
  const auto first = log.find("collector failed");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(log.find("collector failed", first + 1), std::string::npos);
}

TEST(Poller, RunsOnItsInterval) {
  Harness h(milliseconds(50));
  std::atomic<int> runs{0};
  h.poller.Add(std::make_unique<CountingCollector>(runs));
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return runs >= 3; }, seconds(5)));
  h.poller.Stop();
}

TEST(Poller, RequestPollPollsBeforeTheNextTick) {
  Harness h(seconds(3600));
  std::atomic<int> runs{0};
  h.poller.Add(std::make_unique<CountingCollector>(runs));
  h.poller.Start();
  std::this_thread::sleep_for(milliseconds(50));
  EXPECT_EQ(runs, 0) << "the first tick is an interval away";
  h.poller.RequestPoll();
  EXPECT_TRUE(WaitFor([&] { return runs == 1; }, seconds(5)));
  h.poller.Stop();
}

TEST(Poller, StopReturnsPromptlyDuringALongInterval) {
  Harness h(seconds(3600));
  h.poller.Start();
  const auto start = std::chrono::steady_clock::now();
  h.poller.Stop();
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(2));
}

}  // namespace
}  // namespace caloria
