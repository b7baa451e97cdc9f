#include "collectors/backup/backup_scan.h"

#include <dirent.h>
#include <fnmatch.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "collectors/backup/backup_file_name.h"
#include "core/unique_handles.h"

namespace caloria {

Result<std::vector<BackupFile>> ScanBackupDir(const std::string& dir, const std::string& pattern,
                                              const Deadline& deadline) {
  UniqueDir handle(opendir(dir.c_str()));
  if (!handle) {
    return Fail("cannot read the backup folder " + dir + " (" + std::strerror(errno) +
                "): check --backup.dir and that the exporter's user may read it");
  }
  std::vector<BackupFile> files;
  while (const dirent* entry = readdir(handle.get())) {
    if (deadline.Expired()) {
      return Fail("scanning the backup folder " + dir +
                  " did not finish within --collector.timeout");
    }
    const std::string name = entry->d_name;
    if (fnmatch(pattern.c_str(), name.c_str(), FNM_PERIOD) != 0) continue;
    BackupFile file;
    file.name = name;
    file.path = dir + (dir.empty() || dir.back() == '/' ? "" : "/") + name;
    struct stat info {};
    if (stat(file.path.c_str(), &info) != 0 || !S_ISREG(info.st_mode)) continue;
    file.size = static_cast<std::uint64_t>(info.st_size);
    file.mtime = info.st_mtime;
    file.ctime_ns =
        static_cast<std::int64_t>(info.st_ctim.tv_sec) * 1'000'000'000 + info.st_ctim.tv_nsec;
    file.time = TimestampFromFileName(name).value_or(info.st_mtime);
    files.push_back(std::move(file));
  }
  std::sort(files.begin(), files.end(), [](const BackupFile& a, const BackupFile& b) {
    return a.time != b.time ? a.time > b.time : a.name > b.name;
  });
  return files;
}

}  // namespace caloria
