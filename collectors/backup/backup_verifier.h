#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/deadline.h"

namespace caloria {

// What verifying one backup file found. Computed once per (path, size,
// mtime): a 1 GB backup is read once, not at every poll.
struct BackupVerification {
  bool verified = false;              // the file passed every check below
  std::string error;                  // why not, one line
  std::optional<std::int64_t> users;  // rows of the users table in the backup
  std::uint64_t uncompressed_bytes = 0;
  bool timed_out = false;  // ran out of time: try again later, not corrupt
};

// A gzipped plain-SQL pg_dump (*.sql.gz): streams the whole file through
// zlib, which checks every member's CRC-32 and length trailer, and feeds
// the SQL to a PgDumpParser for completeness and the users rows. Memory
// stays flat whatever the size.
BackupVerification VerifyGzipDump(const std::string& path, const std::string& users_table,
                                  const Deadline& deadline);

// A copy of the SQLite database (*.db): opened read-only, PRAGMA
// quick_check, then the users table counted.
BackupVerification VerifySqliteBackup(const std::string& path, const std::string& users_table,
                                      const Deadline& deadline);

// Chooses by content, not by name: gzip magic, SQLite header, else plain
// SQL text (an uncompressed pg_dump).
BackupVerification VerifyBackupFile(const std::string& path, const std::string& users_table,
                                    const Deadline& deadline);

}  // namespace caloria
