#include "http/connection_limiter.h"

namespace caloria {

std::optional<ConnectionLimiter::Slot> ConnectionLimiter::Admit(const std::string& address,
                                                                Refusal* refusal) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (open_ >= max_total_) {
    if (refusal) *refusal = Refusal::kTooManyConnections;
    return std::nullopt;
  }
  int& from_address = open_by_address_[address];
  if (from_address >= max_per_address_) {
    if (refusal) *refusal = Refusal::kTooManyFromAddress;
    return std::nullopt;
  }
  ++from_address;
  ++open_;
  return std::optional<Slot>(std::in_place, *this, address);
}

void ConnectionLimiter::Release(const std::string& address) {
  std::lock_guard<std::mutex> lock(mutex_);
  --open_;
  const auto found = open_by_address_.find(address);
  if (found != open_by_address_.end() && --found->second <= 0) open_by_address_.erase(found);
}

int ConnectionLimiter::Open() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return open_;
}

int ConnectionLimiter::OpenFrom(const std::string& address) const {
  std::lock_guard<std::mutex> lock(mutex_);
  const auto found = open_by_address_.find(address);
  return found == open_by_address_.end() ? 0 : found->second;
}

}  // namespace caloria
