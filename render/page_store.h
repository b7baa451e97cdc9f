#pragma once

#include <memory>
#include <mutex>

#include "render/pages.h"

namespace caloria {

// Holds the latest rendered pages. The poller swaps in a new immutable set;
// HTTP handlers take a reference-counted copy of the pointer and never wait
// for a poll: the lock guards a pointer swap only.
class PageStore {
 public:
  std::shared_ptr<const Pages> Latest() const {
    std::lock_guard<std::mutex> lock(mutex_);
    return latest_;
  }
  void Publish(std::shared_ptr<const Pages> pages) {
    std::lock_guard<std::mutex> lock(mutex_);
    latest_ = std::move(pages);
  }

 private:
  mutable std::mutex mutex_;
  std::shared_ptr<const Pages> latest_;
};

}  // namespace caloria
