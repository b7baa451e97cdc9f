#include "poll/poller.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <filesystem>
#include <mutex>
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

// A collector that blocks while `hold` is set, and records how many runs of
// it (across every target sharing `gauge`) overlap.
struct Overlap {
  std::atomic<int> now{0};
  std::atomic<int> most{0};
};
class SlowCollector : public Collector {
 public:
  SlowCollector(std::atomic<int>& runs, Overlap& overlap, milliseconds takes,
                std::atomic<bool>* hold = nullptr)
      : runs_(runs), overlap_(overlap), takes_(takes), hold_(hold) {}
  std::string Name() const override { return "slow"; }
  CollectorResult Collect(const Deadline&) override {
    const int running = ++overlap_.now;
    for (int most = overlap_.most;
         running > most && !overlap_.most.compare_exchange_weak(most, running);) {
    }
    std::this_thread::sleep_for(takes_);
    while (hold_ && *hold_) std::this_thread::sleep_for(milliseconds(5));
    --overlap_.now;
    ++runs_;
    return {};
  }

 private:
  std::atomic<int>& runs_;
  Overlap& overlap_;
  milliseconds takes_;
  std::atomic<bool>* hold_;
};

std::shared_ptr<TargetPoll> OneCollectorTarget(std::string name, std::unique_ptr<Collector> c) {
  CollectorList collectors;
  collectors.push_back(std::move(c));
  return std::make_shared<TargetPoll>(std::move(name), std::move(collectors));
}

struct Harness {
  std::ostringstream log;
  Logger logger{log, LogLevel::kDebug, LogFormat::kLogfmt};
  PageStore store;
  std::mutex targets_mutex;
  TargetList targets;
  std::atomic<int> publishes{0};
  std::mutex published_mutex;
  FleetSnapshot published;
  Poller poller;

  explicit Harness(Duration interval, int max_parallel = 1)
      : poller(
            {interval, milliseconds(100), max_parallel}, BuildInfo{"1", "r"},
            [this] {
              std::lock_guard<std::mutex> lock(targets_mutex);
              return targets;
            },
            [this](const FleetSnapshot& fleet) {
              Pages pages;
              for (const auto& snapshot : fleet.targets) {
                pages.taken_at = snapshot->taken_at;
                for (const auto& family : snapshot->families) {
                  pages.metrics.body += family.name + "\n";
                }
              }
              store.Publish(std::make_shared<const Pages>(std::move(pages)));
              std::lock_guard<std::mutex> lock(published_mutex);
              published = fleet;
              ++publishes;
            },
            logger) {}

  void Add(std::string name, std::unique_ptr<Collector> collector) {
    std::lock_guard<std::mutex> lock(targets_mutex);
    targets.push_back(OneCollectorTarget(std::move(name), std::move(collector)));
  }
  void Add(std::unique_ptr<Collector> collector) { Add("", std::move(collector)); }
  std::vector<std::string> PublishedTargets() {
    std::lock_guard<std::mutex> lock(published_mutex);
    std::vector<std::string> names;
    for (const auto& snapshot : published.targets) names.push_back(snapshot->target);
    return names;
  }
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
  h.Add(std::make_unique<CountingCollector>(runs));
  EXPECT_EQ(h.store.Latest(), nullptr);
  h.poller.PollOnce();
  ASSERT_NE(h.store.Latest(), nullptr);
  EXPECT_NE(h.store.Latest()->metrics.body.find("caloria_test_runs"), std::string::npos);
  EXPECT_EQ(runs, 1);
}

TEST(Poller, ThrowingCollectorCostsOneRunNotTheDaemon) {
  Harness h(seconds(60));
  std::atomic<int> runs{0};
  h.Add(std::make_unique<CountingCollector>(runs, CountingCollector::Mode::kThrow));
  EXPECT_NO_THROW(h.poller.PollOnce());
  ASSERT_NE(h.store.Latest(), nullptr);
  EXPECT_NE(h.log.str().find("collector threw: boom"), std::string::npos);
}

TEST(Poller, AFailureIsLoggedOnceNotAtEveryPoll) {
  Harness h(seconds(60));
  std::atomic<int> runs{0};
  h.Add(std::make_unique<CountingCollector>(runs, CountingCollector::Mode::kFail));
  for (int i = 0; i < 3; ++i) h.poller.PollOnce();
  const std::string log = h.log.str();
  const auto first = log.find("collector failed");
  ASSERT_NE(first, std::string::npos);
  EXPECT_EQ(log.find("collector failed", first + 1), std::string::npos);
}

TEST(Poller, RunsOnItsInterval) {
  Harness h(milliseconds(50));
  std::atomic<int> runs{0};
  h.Add(std::make_unique<CountingCollector>(runs));
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return runs >= 3; }, seconds(5)));
  h.poller.Stop();
}

TEST(Poller, RequestPollPollsBeforeTheNextTick) {
  Harness h(seconds(3600));
  std::atomic<int> runs{0};
  h.Add(std::make_unique<CountingCollector>(runs));
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

TEST(Poller, PollOncePollsEveryTargetAndPublishesThemInListOrder) {
  Harness h(seconds(60), 2);
  std::atomic<int> a{0};
  std::atomic<int> b{0};
  h.Add("a", std::make_unique<CountingCollector>(a));
  h.Add("b", std::make_unique<CountingCollector>(b));
  h.poller.PollOnce();
  EXPECT_EQ(a, 1);
  EXPECT_EQ(b, 1);
  EXPECT_EQ(h.PublishedTargets(), (std::vector<std::string>{"a", "b"}));
}

TEST(Poller, AtMostMaxParallelTargetsPollAtOnce) {
  Harness h(milliseconds(200), 2);
  std::atomic<int> runs{0};
  Overlap overlap;
  for (const char* name : {"a", "b", "c", "d", "e"}) {
    h.Add(name, std::make_unique<SlowCollector>(runs, overlap, milliseconds(30)));
  }
  h.poller.PollOnce();
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return runs >= 20; }, seconds(10)));
  h.poller.Stop();
  EXPECT_EQ(overlap.most, 2);
}

std::size_t ThreadsOfThisProcess() {
  std::size_t threads = 0;
  for ([[maybe_unused]] const auto& entry :
       std::filesystem::directory_iterator("/proc/self/task")) {
    ++threads;
  }
  return threads;
}

TEST(Poller, StartsOnlyTheWorkersTheTargetsNeed) {
  // One target with max_parallel 8: the scheduler and one worker, not nine
  // threads (each idle one costs a stack, and under ASan much more).
  Harness h(milliseconds(20), 8);
  std::atomic<int> runs{0};
  h.Add("only", std::make_unique<CountingCollector>(runs));
  const std::size_t before = ThreadsOfThisProcess();
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return runs >= 5; }, seconds(5)));
  // The scheduler and one worker; one more allowed for a sanitizer's own
  // background thread (TSan may start it with the first thread).
  EXPECT_GE(ThreadsOfThisProcess(), before + 2);
  EXPECT_LE(ThreadsOfThisProcess(), before + 3);
  h.poller.Stop();
}

TEST(Poller, ATargetNeverPollsTwiceAtOnce) {
  // Its poll takes three intervals: the ticks it misses are skipped, never
  // run beside it (one connection per target).
  Harness h(milliseconds(20), 4);
  std::atomic<int> runs{0};
  Overlap overlap;
  h.Add("slow", std::make_unique<SlowCollector>(runs, overlap, milliseconds(60)));
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return runs >= 4; }, seconds(10)));
  h.poller.Stop();
  EXPECT_EQ(overlap.most, 1);
}

TEST(Poller, AHungTargetDelaysNoOther) {
  Harness h(milliseconds(50), 2);
  std::atomic<int> hung_runs{0};
  std::atomic<int> healthy_runs{0};
  Overlap hung_overlap;
  Overlap healthy_overlap;
  std::atomic<bool> hold{true};
  h.Add("hung", std::make_unique<SlowCollector>(hung_runs, hung_overlap, milliseconds(0), &hold));
  h.Add("healthy", std::make_unique<SlowCollector>(healthy_runs, healthy_overlap, milliseconds(0)));
  h.poller.Start();
  EXPECT_TRUE(WaitFor([&] { return healthy_runs >= 10; }, seconds(10)))
      << "the healthy target waited for the hung one";
  EXPECT_EQ(hung_runs, 0);
  const auto names = h.PublishedTargets();
  EXPECT_EQ(names, (std::vector<std::string>{"healthy"}))
      << "a target that never finished a poll has no snapshot to publish";
  hold = false;
  EXPECT_TRUE(WaitFor([&] { return hung_runs >= 1; }, seconds(10)));
  h.poller.Stop();
}

TEST(Poller, TargetsStartSpreadOverTheInterval) {
  // Eight targets, one interval of 800 ms: their first polls after the
  // start fall at their names' offsets, not all at once.
  Harness h(milliseconds(800), 8);
  std::mutex mutex;
  std::vector<std::chrono::steady_clock::time_point> first_runs;
  class Stamp : public Collector {
   public:
    Stamp(std::mutex& m, std::vector<std::chrono::steady_clock::time_point>& out)
        : mutex_(m), out_(out) {}
    std::string Name() const override { return "stamp"; }
    CollectorResult Collect(const Deadline&) override {
      if (!done_) {
        std::lock_guard<std::mutex> lock(mutex_);
        out_.push_back(std::chrono::steady_clock::now());
        done_ = true;
      }
      return {};
    }

   private:
    std::mutex& mutex_;
    std::vector<std::chrono::steady_clock::time_point>& out_;
    bool done_ = false;
  };
  for (const char* name :
       {"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}) {
    h.Add(name, std::make_unique<Stamp>(mutex, first_runs));
  }
  h.poller.Start();
  EXPECT_TRUE(WaitFor(
      [&] {
        std::lock_guard<std::mutex> lock(mutex);
        return first_runs.size() == 8;
      },
      seconds(5)));
  h.poller.Stop();
  std::lock_guard<std::mutex> lock(mutex);
  const auto [earliest, latest] = std::minmax_element(first_runs.begin(), first_runs.end());
  EXPECT_GT(*latest - *earliest, milliseconds(200)) << "the first polls were not spread";
}

TEST(Poller, AReloadedTargetListIsFollowed) {
  Harness h(seconds(3600), 2);
  std::atomic<int> a{0};
  std::atomic<int> b{0};
  h.Add("a", std::make_unique<CountingCollector>(a));
  h.poller.PollOnce();
  h.poller.Start();
  // A target added by a reload is polled at once, not an interval later;
  // one removed is no longer published.
  {
    std::lock_guard<std::mutex> lock(h.targets_mutex);
    h.targets = {OneCollectorTarget("b", std::make_unique<CountingCollector>(b))};
  }
  h.poller.RequestPoll();
  // b counts its run before its snapshot is published: wait for the publish.
  EXPECT_TRUE(
      WaitFor([&] { return h.PublishedTargets() == std::vector<std::string>{"b"}; }, seconds(5)));
  EXPECT_GE(b, 1);
  h.poller.Stop();
}

}  // namespace
}  // namespace caloria
