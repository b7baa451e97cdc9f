#pragma once

#include <memory>
#include <optional>
#include <string>

#include "collectors/app_probe/app_health.h"
#include "collectors/app_probe/health_url.h"
#include "collectors/app_probe/http_fetch.h"
#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/flags.h"

namespace caloria {

struct AppProbeSettings {
  HealthUrl url;
  std::optional<std::string> ca_file;  // --app.health-ca-file
};

// Asks the running app which database it is on: GETs its own health page
// (--app.health-url, the seed's /health/database) at every poll. The
// exporter reads the app's .env itself, so an app that never loaded that
// .env (the seed's incident: SQLite in production while PostgreSQL sat
// empty) looks fine to every other collector; only the app can say what it
// really uses.
class AppProbeCollector : public Collector {
 public:
  // `published` (may be null) receives what the app said, for the
  // collectors that run after this one (consistency).
  AppProbeCollector(AppProbeSettings settings, std::shared_ptr<Observed<AppView>> published);

  std::string Name() const override { return "app_probe"; }
  CollectorResult Collect(const Deadline& deadline) override;
  LogFields Settings() const override;

 private:
  // What one probe saw.
  struct Seen {
    double duration_seconds = 0;
    std::optional<long> http_status;
    std::optional<AppHealth> health;     // a 2xx answer holding a JSON object
    std::optional<std::string> failure;  // why there is no such answer
  };
  Seen Probe(const Deadline& deadline) const;
  CollectorResult Publish(const Seen& seen) const;

  AppProbeSettings settings_;
  HttpFetchOptions options_;
  std::shared_ptr<Observed<AppView>> published_;
};

// The settings the flags give; nullopt without --app.health-url (nothing to
// probe). An Error for a URL that is not http(s) or a CA file that cannot be
// read.
Result<std::optional<AppProbeSettings>> AppProbeSettingsFromFlags(const FlagValues& flags);

// --[no-]collector.app_probe, --app.health-url and --app.health-ca-file.
CollectorSpec AppProbeCollectorSpec();

}  // namespace caloria
