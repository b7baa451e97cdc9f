#pragma once

#include <cstdint>
#include <ctime>
#include <string>
#include <vector>

#include "core/deadline.h"
#include "core/result.h"

namespace caloria {

// One backup file as the folder scan saw it.
struct BackupFile {
  std::string path;
  std::string name;
  std::uint64_t size = 0;
  std::time_t mtime = 0;
  std::time_t time = 0;  // from the name when it has a timestamp, else mtime
  // The inode's change time, in nanoseconds: it moves on every write, and
  // also on chmod, chown and on a copy that restores the old mtime (cp -p,
  // rsync -t), which size and mtime alone do not show. The verification
  // cache keys on it, so such a file is read again (issue 10: a backup that
  // could not be opened, then made readable, stayed "failed" until restart).
  std::int64_t ctime_ns = 0;
};

// Lists the regular files in `dir` whose names match the glob `pattern`,
// newest first (by the timestamp in the name, else mtime). An Error (one
// line, naming the folder and the fix) when the folder cannot be read or the
// deadline passes.
Result<std::vector<BackupFile>> ScanBackupDir(const std::string& dir, const std::string& pattern,
                                              const Deadline& deadline);

}  // namespace caloria
