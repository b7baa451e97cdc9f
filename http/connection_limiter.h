#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>

namespace caloria {

// Counts open connections, in total and per client address, so that no
// client can take every slot (--web.max-connections,
// --web.max-connections-per-ip). A refused connection is answered 503 and
// closed by the server: never queued.
class ConnectionLimiter {
 public:
  enum class Refusal { kTooManyConnections, kTooManyFromAddress };

  // Holds one slot until destroyed.
  class Slot {
   public:
    Slot(ConnectionLimiter& limiter, std::string address)
        : limiter_(&limiter), address_(std::move(address)) {}
    Slot(Slot&& other) noexcept
        : limiter_(std::exchange(other.limiter_, nullptr)), address_(std::move(other.address_)) {}
    Slot& operator=(Slot&&) = delete;
    Slot(const Slot&) = delete;
    Slot& operator=(const Slot&) = delete;
    ~Slot() {
      if (limiter_) limiter_->Release(address_);
    }

   private:
    ConnectionLimiter* limiter_;
    std::string address_;
  };

  ConnectionLimiter(int max_total, int max_per_address)
      : max_total_(max_total), max_per_address_(max_per_address) {}

  // A slot for a new connection from `address`, or why there is none. The
  // slot must not outlive the limiter.
  std::optional<Slot> Admit(const std::string& address, Refusal* refusal);

  int Open() const;
  int OpenFrom(const std::string& address) const;

 private:
  void Release(const std::string& address);

  const int max_total_;
  const int max_per_address_;
  mutable std::mutex mutex_;
  int open_ = 0;
  std::map<std::string, int> open_by_address_;  // only addresses with open connections
};

}  // namespace caloria
