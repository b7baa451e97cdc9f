#include "collectors/backup/backup_settings.h"

namespace caloria {

std::vector<FlagSpec> BackupFlags() {
  return {
      {"backup.dir", "PATH", "Folder holding the backups (default /var/backups/caloria)."},
      {"backup.pattern", "GLOB",
       "Backup file names to consider, a shell glob (default \"caloria_*.sql.gz\"; e.g. "
       "\"caloria_*.db\" for SQLite copies)."},
      {"backup.max-age", "DURATION",
       "Age beyond which the latest backup makes the backup check unhealthy (default 26h)."},
      {"backup.retention", "DURATION",
       "Backups older than this count as retention violations (default 7d)."},
      {"backup.log", "PATH", "The backup script's log, to export its last success and error."},
      {"backup.users-table", "NAME", "The users table counted inside backups (default users)."},
      {"backup.verify-timeout", "DURATION",
       "Deadline for verifying one backup file, in the background (default 10m)."},
  };
}

Result<BackupSettings> BackupSettingsFromFlags(const FlagValues& flags) {
  BackupSettings backup;
  if (auto dir = flags.Get("backup.dir")) {
    if (dir->empty()) return Fail("--backup.dir is empty: give the backup folder");
    backup.dir = *dir;
  }
  if (auto pattern = flags.Get("backup.pattern")) {
    if (pattern->empty() || pattern->find('/') != std::string::npos) {
      return Fail("--backup.pattern='" + *pattern +
                  "' must be a file name glob without /, e.g. caloria_*.sql.gz");
    }
    backup.pattern = *pattern;
  }
  for (auto [name, field] : {std::pair{"backup.max-age", &backup.max_age},
                             std::pair{"backup.retention", &backup.retention},
                             std::pair{"backup.verify-timeout", &backup.verify_timeout}}) {
    const Result<Duration> value = PositiveDurationFlag(flags, name, *field);
    if (!value) return Fail(value.error());
    *field = *value;
  }
  if (auto log = flags.Get("backup.log"); log && !log->empty()) backup.log_path = *log;
  if (auto table = flags.Get("backup.users-table")) {
    if (table->empty()) return Fail("--backup.users-table is empty: e.g. users");
    backup.users_table = *table;
  }
  return backup;
}

}  // namespace caloria
