#pragma once

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "config/database_location.h"

namespace caloria {

// Publishes what the startup validation found: which database the app is
// configured for and from where, and every configuration problem. The
// configuration is immutable, so this collector only re-publishes it; it
// exists so the poller treats it like every other source of metrics.
class ConfigCollector : public Collector {
 public:
  explicit ConfigCollector(const DatabaseLocation& database);

  std::string Name() const override { return "config"; }
  CollectorResult Collect(const Deadline& deadline) override;

 private:
  CollectorResult result_;
};

// --[no-]collector.config.
CollectorSpec ConfigCollectorSpec();

}  // namespace caloria
