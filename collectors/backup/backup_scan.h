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
};

// Lists the regular files in `dir` whose names match the glob `pattern`,
// newest first (by the timestamp in the name, else mtime). An Error (one
// line, naming the folder and the fix) when the folder cannot be read or the
// deadline passes.
Result<std::vector<BackupFile>> ScanBackupDir(const std::string& dir, const std::string& pattern,
                                              const Deadline& deadline);

}  // namespace caloria
