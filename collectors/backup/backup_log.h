#pragma once

#include <ctime>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"

namespace caloria {

// What the backup script's log says about its latest runs.
struct BackupLogSummary {
  std::optional<std::time_t> last_success;
  std::optional<std::time_t> last_error;
  std::string last_error_message;
};

// Reads log lines in the format scripts/caloria-backup writes:
//   2026-11-25T02:00:04+00:00 caloria-backup SUCCESS file=... size=... users=...
//   2026-11-25T02:00:04+00:00 caloria-backup ERROR pg_dump failed (exit 1)
// The line starts with an ISO 8601 time (with offset or Z; without one it
// is local time; "YYYY-MM-DD HH:MM:SS" too), then any words; the first of
// SUCCESS/OK or ERROR/FAILED/FAILURE as a whole word decides the outcome.
// Lines without both are ignored. Only the first 4 KiB of a line are read
// (the script's lines are a few hundred bytes): an outcome word further on
// does not count, and the error message is cut to 300 bytes.
BackupLogSummary SummarizeBackupLog(std::string_view text);

// The last megabyte of the log (only the end matters, and a log nobody
// rotates must not make every poll read more), from the start of a line:
// empty when that megabyte is the inside of one longer line. Only a regular
// file is read (a FIFO would block the poll). An Error names the file and
// the fix when it cannot be read.
Result<std::string> ReadLogTail(const std::string& path);

// The time at the start of a log line, or nullopt. Linear in the line's
// length, whatever it holds.
std::optional<std::time_t> LogLineTime(std::string_view line);

}  // namespace caloria
