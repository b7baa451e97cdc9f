// The backup log reader (collectors/backup/backup_log): ReadLogTail on the
// input as a file, then SummarizeBackupLog and LogLineTime on its lines.

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <ctime>
#include <string>
#include <string_view>

#include "collectors/backup/backup_log.h"
#include "tests/fuzz/fuzz_check.h"

namespace {

using caloria::fuzz::Require;

// One in-memory file (memfd) rewritten for each input: no disk, no file
// left behind, a real path for ReadLogTail to open.
int g_log_fd = -1;
std::string g_log_path;

bool SameSummary(const caloria::BackupLogSummary& a, const caloria::BackupLogSummary& b) {
  return a.last_success == b.last_success && a.last_error == b.last_error &&
         a.last_error_message == b.last_error_message;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
  // Times without an offset are local: fix the zone, so a run replays.
  setenv("TZ", "UTC0", 1);
  tzset();
  g_log_fd = memfd_create("caloria_fuzz_backup_log", MFD_CLOEXEC);
  if (g_log_fd >= 0) g_log_path = "/proc/self/fd/" + std::to_string(g_log_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text = caloria::fuzz::Text(data, size);
  if (g_log_fd >= 0 && ftruncate(g_log_fd, 0) == 0 &&
      pwrite(g_log_fd, text.data(), text.size(), 0) == static_cast<ssize_t>(text.size())) {
    const caloria::Result<std::string> tail = caloria::ReadLogTail(g_log_path);
    Require(tail.ok() && *tail == text, "ReadLogTail of a short log is not the whole log");
  }

  const caloria::BackupLogSummary summary = caloria::SummarizeBackupLog(text);
  Require(SameSummary(summary, caloria::SummarizeBackupLog(text)),
          "the same log summarized twice gave different results");
  Require(summary.last_error_message.size() <= 300, "the error message passed 300 bytes");
  Require(summary.last_error_message.find('\n') == std::string::npos,
          "the error message holds a line break");

  // What follows the time never changes it: a scanner that read on would.
  std::string_view rest = text;
  while (!rest.empty()) {
    const std::string_view line = rest.substr(0, rest.find('\n'));
    rest.remove_prefix(std::min(rest.size(), line.size() + 1));
    const auto time = caloria::LogLineTime(line);
    Require(caloria::LogLineTime(std::string(line) + " caloria-backup SUCCESS") == time,
            "text after the time changed the time");
  }
  return 0;
}
