#include "collectors/backup/backup_log.h"

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>
#include <string_view>

namespace caloria {
namespace {

constexpr std::streamoff kLogTailBytes = 1024 * 1024;
// What the script writes is a time, a word and a few key=value pairs: a few
// hundred bytes. Only this much of a line is read, so a runaway line costs
// no more than a normal one; its time and first outcome word are at its start.
constexpr std::size_t kMaxLineBytes = 4 * 1024;
// The message of an error line as the health page shows it.
constexpr std::size_t kMaxErrorMessageBytes = 300;

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

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Reads the time at the start of a log line field by field. A hand-written
// scanner rather than the standard library's regex: the log is written by
// another program, and that matcher recurses once per character of a
// repetition, so a line with 50,000 digits of fractional seconds overflowed
// the stack (issue 10). Each character is looked at once.
class LineScanner {
 public:
  explicit LineScanner(std::string_view line) : line_(line) {}

  // Moves past `c` if it is next; says whether it was.
  bool Take(char c) {
    if (pos_ >= line_.size() || line_[pos_] != c) return false;
    ++pos_;
    return true;
  }
  void Skip(char c) { Take(c); }

  // Exactly `width` digits as a number (at most 4, so no overflow).
  std::optional<int> Number(std::size_t width) {
    if (line_.size() - pos_ < width) return std::nullopt;
    int value = 0;
    for (std::size_t i = pos_; i < pos_ + width; ++i) {
      if (!IsDigit(line_[i])) return std::nullopt;
      value = value * 10 + (line_[i] - '0');
    }
    pos_ += width;
    return value;
  }

  // ".123456" or ",123": only a separator followed by a digit is a fraction.
  void SkipFraction() {
    if (pos_ + 1 >= line_.size() || (line_[pos_] != '.' && line_[pos_] != ',') ||
        !IsDigit(line_[pos_ + 1])) {
      return;
    }
    ++pos_;
    while (pos_ < line_.size() && IsDigit(line_[pos_])) ++pos_;
  }

  // "Z", "+HH:MM", "+HHMM", "-HH:MM" or "-HHMM" as seconds east of UTC;
  // nullopt when no whole offset follows (the time is then local).
  std::optional<int> ZoneOffsetSeconds() {
    if (Take('Z')) return 0;
    if (pos_ >= line_.size() || (line_[pos_] != '+' && line_[pos_] != '-')) return std::nullopt;
    const int sign = line_[pos_] == '-' ? -1 : 1;
    ++pos_;
    const std::optional<int> hours = Number(2);
    if (!hours) return std::nullopt;
    Skip(':');
    const std::optional<int> minutes = Number(2);
    if (!minutes) return std::nullopt;
    return sign * (*hours * 3600 + *minutes * 60);
  }

 private:
  std::string_view line_;
  std::size_t pos_ = 0;
};

}  // namespace

std::optional<std::time_t> LogLineTime(std::string_view line) {
  // [YYYY-MM-DD(T| )HH:MM:SS, then optionally [.,]DIGITS and Z or +HH:MM,
  // +HHMM, -HH:MM, -HHMM; whatever follows is the rest of the line.
  LineScanner scan(line);
  scan.Skip('[');
  const std::optional<int> year = scan.Number(4);
  const bool date = year && scan.Take('-');
  const std::optional<int> month = date ? scan.Number(2) : std::nullopt;
  const std::optional<int> day = month && scan.Take('-') ? scan.Number(2) : std::nullopt;
  const bool split = day && (scan.Take('T') || scan.Take(' '));
  const std::optional<int> hour = split ? scan.Number(2) : std::nullopt;
  const std::optional<int> minute = hour && scan.Take(':') ? scan.Number(2) : std::nullopt;
  const std::optional<int> second = minute && scan.Take(':') ? scan.Number(2) : std::nullopt;
  if (!second) return std::nullopt;
  scan.SkipFraction();
  std::tm calendar{};
  calendar.tm_year = *year - 1900;
  calendar.tm_mon = *month - 1;
  calendar.tm_mday = *day;
  calendar.tm_hour = *hour;
  calendar.tm_min = *minute;
  calendar.tm_sec = *second;
  const std::optional<int> offset = scan.ZoneOffsetSeconds();
  if (!offset) {
    calendar.tm_isdst = -1;
    const std::time_t local = std::mktime(&calendar);
    if (local == static_cast<std::time_t>(-1)) return std::nullopt;
    return local;
  }
  return timegm(&calendar) - *offset;
}

BackupLogSummary SummarizeBackupLog(std::string_view text) {
  BackupLogSummary summary;
  while (!text.empty()) {
    const auto newline = text.find('\n');
    const std::string_view line = text.substr(0, std::min(newline, kMaxLineBytes));
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
          summary.last_error_message = std::string(rest.substr(0, kMaxErrorMessageBytes));
        }
        break;
      case Outcome::kNone:
        break;
    }
  }
  return summary;
}

Result<std::string> ReadLogTail(const std::string& path) {
  // Opening a FIFO would wait for a writer, and a device could be endless:
  // only a regular file is read (a missing one fails to open, below).
  std::error_code error;
  const auto status = std::filesystem::status(path, error);
  if (!error && std::filesystem::exists(status) && !std::filesystem::is_regular_file(status)) {
    return Fail("cannot read the backup log " + path +
                ": it is not a regular file; check --backup.log");
  }
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
  // A log truncated (rotated) since tellg() holds fewer bytes: keep only
  // those read, not a tail of NULs.
  text.resize(static_cast<std::size_t>(std::max<std::streamsize>(0, in.gcount())));
  // A tail that starts mid-line would misread its first line: drop it, and
  // drop it all when the tail is the inside of one long line.
  if (start > 0) {
    const std::size_t newline = text.find('\n');
    text.erase(0, newline == std::string::npos ? text.size() : newline + 1);
  }
  return text;
}

}  // namespace caloria
