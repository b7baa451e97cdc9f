#pragma once

#include <cstddef>
#include <optional>
#include <string>

#include "core/result.h"

namespace caloria {

// What one run of scripts/caloria-restore-test found. The script writes it
// through `caloria_backup_tool restore-state`, the exporter reads it: both go
// through this file's code, so they never disagree about the format.
struct RestoreRun {
  double finished = 0;          // unix seconds
  bool success = false;         // restored, and its users match the backup's record
  std::string error;            // one line when !success; never a secret
  double duration_seconds = 0;  // the restore itself
  std::string backup_file;
  std::optional<double> backup_timestamp;  // the backup's time (name, else mtime)
  std::string backup_format;               // "plain", "custom" or "sqlite"; "" unknown
  std::optional<double> restored_users;    // counted in the restored copy
  std::optional<double> backup_users;      // recorded when the backup was made
  std::optional<double> live_users;        // in the live database during the test
  std::string target;                      // where it restored, redacted
};

// The state file: the latest run, and the latest run that succeeded (which a
// failed run leaves in place, so its time still tells how old the proof is).
struct RestoreState {
  RestoreRun last_run;
  std::optional<RestoreRun> last_success;
};

inline constexpr int kRestoreStateVersion = 1;
// A state file is a few hundred bytes; anything this large is the wrong file.
inline constexpr std::size_t kMaxRestoreStateBytes = 64 * 1024;

// The state as the JSON the file holds ({"version": 1, "last_run": {...},
// "last_success": {...} | null}), one line, ending in a newline.
std::string RestoreStateJson(const RestoreState& state);

// Parses the file's text. Everything in it is checked (types, ranges, one-line
// strings of bounded length); an Error is one line naming what is wrong.
Result<RestoreState> ParseRestoreState(const std::string& text);

// Reads and parses the state file without blocking (a regular file of at
// most kMaxRestoreStateBytes). An Error names the file and the fix.
Result<RestoreState> ReadRestoreState(const std::string& path);

// Replaces the state file atomically (a temporary file in its folder,
// fsync, rename), so the exporter never reads half of one.
Status WriteRestoreState(const std::string& path, const RestoreState& state);

}  // namespace caloria
