#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "config/flags.h"
#include "core/duration.h"
#include "core/result.h"

namespace caloria {

// Where the backups are and what counts as good; see the --backup.* flags.
struct BackupSettings {
  std::string dir = "/var/backups/caloria";
  std::string pattern = "caloria_*.sql.gz";
  Duration max_age = std::chrono::hours(26);
  Duration retention = std::chrono::hours(24 * 7);
  std::optional<std::string> log_path;
  std::string users_table = "users";
  Duration verify_timeout = std::chrono::minutes(10);
  // A verification that ran out of time is tried again after this long (the
  // disk may have been busy), not at every poll: each try may read for
  // verify_timeout. Not a flag; tests shorten it.
  Duration retry_timed_out_after = std::chrono::hours(1);
};

// The --backup.* flags.
std::vector<FlagSpec> BackupFlags();

// Reads the --backup.* flags over the defaults; a bad value is an Error.
Result<BackupSettings> BackupSettingsFromFlags(const FlagValues& flags);

}  // namespace caloria
