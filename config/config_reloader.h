#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "config/config.h"
#include "config/config_store.h"
#include "core/clock.h"
#include "core/logger.h"
#include "core/result.h"

namespace caloria {

// How the last reload went, for caloria_exporter_config_last_reload_* and
// the configuration check.
struct ReloadStatus {
  bool last_successful = true;
  SystemTime last_success;           // the start, until a reload succeeds
  std::optional<std::string> error;  // why the last reload failed, one line
};

// Reloads the configuration the way Prometheus does: the same command-line
// flags, the files read again (the app's env file, the URL file). A new
// configuration that fails validation is rejected and the old one kept.
// Safe from any thread: SIGHUP (main), POST /-/reload (HTTP) and the file
// watch (the poller, through the config collector) may race.
class ConfigReloader {
 public:
  // `load` builds a Config from the startup flags and environment
  // (LoadConfig); the store holds the Config built at startup.
  using Loader = std::function<Result<Config>()>;
  // ReloadIfFilesChanged looks at the files at most once per
  // `min_check_gap`.
  ConfigReloader(Loader load, ConfigStore& store, Logger& logger,
                 std::chrono::milliseconds min_check_gap = std::chrono::seconds(1));

  // Loads and, if valid, publishes. `why` names the trigger for the log.
  Status Reload(const std::string& why);

  // Reloads when a file the configuration in force was read from has
  // changed, appeared or disappeared since it was read. Returns whether it
  // reloaded. Reads only small files, each at most 1 MiB, and at most once a
  // second (many targets each ask at every poll).
  bool ReloadIfFilesChanged();

  ReloadStatus LastReload() const;

 private:
  using Fingerprints = std::map<std::string, std::optional<std::size_t>>;
  static Fingerprints Fingerprint(const Config& config);

  Loader load_;
  ConfigStore& store_;
  Logger& logger_;

  mutable std::mutex mutex_;
  ReloadStatus status_;
  Fingerprints fingerprints_;  // of the files behind the configuration in force
  Fingerprints rejected_;      // of the files behind the last rejected one
  std::chrono::milliseconds min_check_gap_;
  std::optional<std::chrono::steady_clock::time_point> last_check_;
};

}  // namespace caloria
