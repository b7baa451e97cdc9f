#pragma once

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "config/config_reloader.h"
#include "config/config_store.h"

namespace caloria {

// Publishes the configuration in force: which database the app is
// configured for and from where, every configuration problem, and how the
// last reload went. It also watches the files the configuration was read
// from: when one changes, it reloads before the other collectors of the same
// poll run, so a .env that loses DATABASE_URL is reported within one interval.
class ConfigCollector : public Collector {
 public:
  // `reloader` may be null (nothing is watched).
  ConfigCollector(const ConfigStore& store, ConfigReloader* reloader);

  std::string Name() const override { return "config"; }
  CollectorResult Collect(const Deadline& deadline) override;

 private:
  const ConfigStore& store_;
  ConfigReloader* reloader_;
};

// --[no-]collector.config.
CollectorSpec ConfigCollectorSpec();

}  // namespace caloria
