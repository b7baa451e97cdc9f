#include "collectors/backup/backup_log.h"

#include <algorithm>
#include <fstream>
#include <regex>
#include <string>

namespace caloria {
namespace {

constexpr std::streamoff kLogTailBytes = 1024 * 1024;

enum class Outcome { kNone, kSuccess, kError };

bool IsWordChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
}

Outcome OutcomeOf(std::string_view line, std::string_view& rest) {
  std::size_t pos = 0;
  while (pos < line.size()) {
    while (pos < line.size() && !IsWordChar(line[pos])) ++pos;
    std::size_t end = pos;
    while (end < line.size() && IsWordChar(line[end])) ++end;
    const std::string_view word = line.substr(pos, end - pos);
    if (word == "SUCCESS" || word == "OK") return Outcome::kSuccess;
    if (word == "ERROR" || word == "FAILED" || word == "FAILURE") {
      rest = line.substr(end);
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == ':')) rest.remove_prefix(1);
      return Outcome::kError;
    }
    pos = end;
  }
  return Outcome::kNone;
}

}  // namespace

std::optional<std::time_t> LogLineTime(std::string_view line) {
  static const std::regex kTime(
      R"(^\[?(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,]\d+)?(Z|[+-]\d{2}:?\d{2})?)");
  std::cmatch m;
  if (!std::regex_search(line.data(), line.data() + line.size(), m, kTime)) return std::nullopt;
  std::tm calendar{};
  calendar.tm_year = std::stoi(m[1]) - 1900;
  calendar.tm_mon = std::stoi(m[2]) - 1;
  calendar.tm_mday = std::stoi(m[3]);
  calendar.tm_hour = std::stoi(m[4]);
  calendar.tm_min = std::stoi(m[5]);
  calendar.tm_sec = std::stoi(m[6]);
  if (!m[7].matched) {
    calendar.tm_isdst = -1;
    const std::time_t local = std::mktime(&calendar);
    if (local == static_cast<std::time_t>(-1)) return std::nullopt;
    return local;
  }
  std::time_t utc = timegm(&calendar);
  const std::string zone = m[7];
  if (zone != "Z") {
    const int sign = zone[0] == '-' ? -1 : 1;
    const std::string digits = zone.substr(1);
    const int hours = std::stoi(digits.substr(0, 2));
    const int minutes = std::stoi(digits.substr(digits.size() - 2));
    utc -= sign * (hours * 3600 + minutes * 60);
  }
  return utc;
}

BackupLogSummary SummarizeBackupLog(std::string_view text) {
  BackupLogSummary summary;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    std::string_view line = text.substr(0, newline);
    text.remove_prefix(newline == std::string_view::npos ? text.size() : newline + 1);
    const auto time = LogLineTime(line);
    if (!time) continue;
    std::string_view rest;
    switch (OutcomeOf(line, rest)) {
      case Outcome::kSuccess:
        if (!summary.last_success || *time >= *summary.last_success) summary.last_success = time;
        break;
      case Outcome::kError:
        if (!summary.last_error || *time >= *summary.last_error) {
          summary.last_error = time;
          summary.last_error_message = std::string(rest.substr(0, 300));
        }
        break;
      case Outcome::kNone:
        break;
    }
  }
  return summary;
}

Result<std::string> ReadLogTail(const std::string& path) {
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) {
    return Fail("cannot read the backup log " + path + ": check --backup.log and its permissions");
  }
  const std::streamoff size = in.tellg();
  if (size < 0) {
    return Fail("cannot read the backup log " + path +
                ": it is not a regular file; check --backup.log");
  }
  const std::streamoff start = std::max<std::streamoff>(0, size - kLogTailBytes);
  in.seekg(start);
  std::string text(static_cast<std::size_t>(size - start), '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  // A tail that starts mid-line would misread its first line: drop it.
  if (start > 0) text.erase(0, text.find('\n') + 1);
  return text;
}

}  // namespace caloria
