#include "poll/poller.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>

#include "core/thread_guard.h"

namespace caloria {
namespace {

using Clock = std::chrono::steady_clock;

// FNV-1a: the same offset for a name on every start and every machine, so
// a target's polls keep their place in the interval across restarts.
std::uint64_t NameHash(const std::string& name) {
  std::uint64_t hash = 14695981039346656037ULL;
  for (const unsigned char c : name) {
    hash ^= c;
    hash *= 1099511628211ULL;
  }
  return hash;
}

}  // namespace

Poller::Poller(PollerSettings settings, BuildInfo build, TargetSource targets, SnapshotSink publish,
               Logger& logger)
    : settings_(settings),
      build_(std::move(build)),
      targets_(std::move(targets)),
      publish_(std::move(publish)),
      logger_(logger) {
  settings_.max_parallel = std::max(1, settings_.max_parallel);
}

Poller::~Poller() { Stop(); }

// The first poll of a target after the start is this far away, from just
// over 0 to one interval; the one target the flags describe ("") waits the
// whole interval, as a single poller always has.
Duration Poller::SpreadOffset(const std::string& name) const {
  const auto interval_ms = std::max<std::int64_t>(
      1, std::chrono::duration_cast<std::chrono::milliseconds>(settings_.interval).count());
  const auto into = name.empty() ? 0 : static_cast<std::int64_t>(NameHash(name) % interval_ms);
  return std::chrono::milliseconds(interval_ms - into);
}

// Takes the target list in force: a new target is due at its offset (at the
// first refresh) or at once (added by a reload), a replaced one (same name,
// new collectors) at once, a removed one is forgotten, its snapshot too. A
// target still running when it was removed finishes on its own; its name
// stays in running_ until then, so a target added again under that name
// never polls twice at once.
std::map<std::string, Poller::TargetState> Poller::Refresh(const TargetList& list,
                                                           Clock::time_point now, bool at_start) {
  std::vector<std::string> order;
  std::map<std::string, TargetState> states;
  for (const auto& poll : list) {
    if (!poll || states.count(poll->name())) continue;
    order.push_back(poll->name());
    const auto known = states_.find(poll->name());
    TargetState state;
    if (known != states_.end()) {
      state = known->second;
      if (state.poll != poll) {
        state.poll = poll;
        state.requested = true;
      }
    } else {
      state.poll = poll;
      state.next_due = at_start ? now + SpreadOffset(poll->name()) : now;
    }
    states[poll->name()] = std::move(state);
  }
  for (auto it = latest_.begin(); it != latest_.end();) {
    it = states.count(it->first) ? std::next(it) : latest_.erase(it);
  }
  order_ = std::move(order);
  std::swap(states_, states);
  return states;
}

TargetList Poller::ListTargets() {
  TargetList list;
  // The source may build collectors: it is never called with our lock held.
  RunGuarded(logger_, "target list", [&] { list = targets_(); });
  return list;
}

void Poller::Publish(const std::string& name, std::shared_ptr<const Snapshot> snapshot) {
  // Held across both steps, so that a later poll's pages never lose to an
  // earlier one's.
  std::lock_guard<std::mutex> publishing(publish_mutex_);
  FleetSnapshot fleet;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (snapshot && states_.count(name)) latest_[name] = std::move(snapshot);
    for (const auto& listed : order_) {
      const auto it = latest_.find(listed);
      if (it != latest_.end()) fleet.targets.push_back(it->second);
    }
  }
  RunGuarded(logger_, "publish", [&] { publish_(fleet); });
}

void Poller::PollOnce() {
  std::vector<std::shared_ptr<TargetPoll>> polls;
  const TargetList list = ListTargets();
  std::map<std::string, TargetState> replaced;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    replaced = Refresh(list, Clock::now(), true);
    for (const auto& name : order_) polls.push_back(states_[name].poll);
  }
  replaced.clear();
  std::vector<std::shared_ptr<const Snapshot>> snapshots(polls.size());
  std::atomic<std::size_t> next{0};
  const auto work = [&] {
    for (std::size_t i = next++; i < polls.size(); i = next++) {
      RunGuarded(logger_, "poll", [&] {
        snapshots[i] =
            std::make_shared<const Snapshot>(polls[i]->Poll(settings_.timeout, build_, logger_));
      });
    }
  };
  std::vector<std::thread> helpers;
  const std::size_t threads = std::min<std::size_t>(settings_.max_parallel, polls.size());
  for (std::size_t i = 1; i < threads; ++i) helpers.emplace_back(work);
  work();
  for (auto& helper : helpers) helper.join();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (std::size_t i = 0; i < polls.size(); ++i) {
      if (snapshots[i] && states_.count(polls[i]->name())) {
        latest_[polls[i]->name()] = snapshots[i];
      }
    }
  }
  Publish("", nullptr);
}

void Poller::Start() {
  std::lock_guard<std::mutex> lock(mutex_);
  scheduler_ = std::thread([this] { Schedule(); });
}

// Workers are started as the targets need them, up to max_parallel, and
// kept: one target needs one worker whatever max_parallel says, and each
// idle thread costs memory (a stack, and under the sanitizers much more).
// Called with the lock held.
void Poller::HandOver(const std::string& name) {
  due_.push_back(name);
  // More targets waiting than workers to take them: one more worker, counted
  // idle at once so that the next hand-over does not start another for it.
  if (due_.size() > static_cast<std::size_t>(idle_workers_) &&
      static_cast<int>(workers_.size()) < settings_.max_parallel) {
    ++idle_workers_;
    workers_.emplace_back([this] { Work(); });
  }
  work_.notify_one();
}

// The scheduler: hands each due target to the workers, never one that is
// still running, then sleeps until the next is due or something changes.
void Poller::Schedule() {
  std::unique_lock<std::mutex> lock(mutex_);
  bool at_start = states_.empty();
  while (!stopping_) {
    lock.unlock();
    const TargetList list = ListTargets();
    lock.lock();
    if (stopping_) break;
    auto replaced = Refresh(list, Clock::now(), at_start);
    at_start = false;
    // A target's collectors may be destroyed with it, and a collector's
    // destructor may ask for a poll: never under our lock.
    lock.unlock();
    replaced.clear();
    lock.lock();
    if (stopping_) break;
    if (poll_requested_) {
      for (auto& [name, state] : states_) state.requested = true;
      poll_requested_ = false;
    }
    for (const auto& name : targets_requested_) {
      if (auto it = states_.find(name); it != states_.end()) it->second.requested = true;
    }
    targets_requested_.clear();
    const auto now = Clock::now();
    auto wake_at = now + settings_.interval;
    for (const auto& name : order_) {
      TargetState& state = states_[name];
      if (running_.count(name)) continue;
      const bool due = state.next_due <= now;
      if (due || state.requested) {
        // A requested poll does not move the schedule. Fixed-rate otherwise;
        // after an overrun, start again from now rather than running back to
        // back to catch up.
        if (due) {
          state.next_due += settings_.interval;
          if (state.next_due < now) state.next_due = now + settings_.interval;
        }
        state.requested = false;
        running_.insert(name);
        HandOver(name);
      }
      wake_at = std::min(wake_at, state.next_due);
    }
    wake_.wait_until(lock, wake_at, [this] {
      return stopping_ || poll_requested_ || finished_ || !targets_requested_.empty();
    });
    finished_ = false;
  }
}

// A worker: polls the targets the scheduler hands it, one at a time.
void Poller::Work() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    work_.wait(lock, [this] { return stopping_ || !due_.empty(); });
    if (stopping_) return;
    --idle_workers_;
    const std::string name = due_.front();
    due_.erase(due_.begin());
    const auto found = states_.find(name);
    if (found == states_.end()) {
      running_.erase(name);
      ++idle_workers_;
      continue;
    }
    std::shared_ptr<TargetPoll> poll = found->second.poll;
    lock.unlock();
    std::shared_ptr<const Snapshot> snapshot;
    // The thread's guard: a poll that fails past every collector's own
    // guard (assembling, say) is logged; the pages it did not replace go
    // stale and answer 503, and the next tick tries again.
    RunGuarded(logger_, "poll", [&] {
      snapshot = std::make_shared<const Snapshot>(poll->Poll(settings_.timeout, build_, logger_));
    });
    Publish(name, std::move(snapshot));
    poll.reset();  // may be the last owner of a removed target: not under our lock
    lock.lock();
    running_.erase(name);
    ++idle_workers_;
    finished_ = true;
    wake_.notify_all();
  }
}

void Poller::RequestPoll() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    poll_requested_ = true;
  }
  wake_.notify_all();
}

void Poller::RequestPoll(const std::string& target) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    targets_requested_.insert(target);
  }
  wake_.notify_all();
}

void Poller::Stop() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  work_.notify_all();
  if (scheduler_.joinable()) scheduler_.join();
  // The scheduler, the only one to start workers, has stopped.
  for (auto& worker : workers_) {
    if (worker.joinable()) worker.join();
  }
  workers_.clear();
  idle_workers_ = 0;
  std::map<std::string, TargetState> states;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    due_.clear();
    running_.clear();
    latest_.clear();
    order_.clear();
    std::swap(states, states_);
  }
}

}  // namespace caloria
