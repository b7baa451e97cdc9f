#pragma once

#include <memory>
#include <mutex>

#include "config/config.h"

namespace caloria {

// The configuration in force. A reload publishes a new one; a reader takes a
// reference-counted pointer and keeps a consistent Config for as long as it
// holds it, so a reload never changes settings under a running collector.
class ConfigStore {
 public:
  explicit ConfigStore(std::shared_ptr<const Config> config) : latest_(std::move(config)) {}

  std::shared_ptr<const Config> Latest() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return latest_;
  }
  void Publish(std::shared_ptr<const Config> config) {
    std::lock_guard<std::mutex> lock(mutex_);
    latest_ = std::move(config);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Config> latest_;
};

}  // namespace caloria
