#include "collectors/backup/backup_file_name.h"

#include <cstddef>
#include <string_view>

// A hand-written scanner rather than the standard library's regex: the names
// come from a folder anyone with write access to it can fill, and that
// matcher recurses per character, so a long name can overflow the stack.
// Each position is looked at a bounded number of times, so the scan is
// linear in the name's length.

namespace caloria {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

bool IsLeapYear(int year) { return (year % 4 == 0 && year % 100 != 0) || year % 400 == 0; }

int DaysInMonth(int year, int month) {
  static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return month == 2 && IsLeapYear(year) ? 29 : kDays[month - 1];
}

std::optional<std::time_t> LocalTime(int year, int month, int day, int hour, int minute,
                                     int second) {
  if (year < 1970 || year > 9999 || month < 1 || month > 12 || day < 1 ||
      day > DaysInMonth(year, month) || hour > 23 || minute > 59 || second > 60) {
    return std::nullopt;
  }
  std::tm calendar{};
  calendar.tm_year = year - 1900;
  calendar.tm_mon = month - 1;
  calendar.tm_mday = day;
  calendar.tm_hour = hour;
  calendar.tm_min = minute;
  calendar.tm_sec = second;
  calendar.tm_isdst = -1;  // let the zone rules decide, as `date` did
  const std::time_t time = std::mktime(&calendar);
  if (time == static_cast<std::time_t>(-1)) return std::nullopt;
  return time;
}

// The number written by exactly `width` digits at `pos`, or nullopt.
std::optional<int> DigitsAt(std::string_view text, std::size_t pos, std::size_t width) {
  if (pos > text.size() || text.size() - pos < width) return std::nullopt;
  int value = 0;
  for (std::size_t i = pos; i < pos + width; ++i) {
    if (!IsDigit(text[i])) return std::nullopt;
    value = value * 10 + (text[i] - '0');
  }
  return value;
}

// Digits must not touch other digits, so "1234567890123456" or a version
// number is never read as a date.
bool NumberEndsAt(std::string_view text, std::size_t pos) {
  return pos >= text.size() || !IsDigit(text[pos]);
}

// `pos` if text[pos] is one of `separators`, moved past it; otherwise `pos`.
std::size_t SkipOneOf(std::string_view text, std::size_t pos, std::string_view separators) {
  return pos < text.size() && separators.find(text[pos]) != std::string_view::npos ? pos + 1 : pos;
}

struct NameTimestamp {
  int year = 0;
  int month = 0;
  int day = 0;
  int hour = 0;  // a date alone is read as midnight
  int minute = 0;
  int second = 0;
  std::size_t end = 0;  // one past the last character read
};

// HH MM SS right after a date that ends at `pos`: "_HHMMSS", "THHMMSS",
// "-HH-MM-SS", "THH:MM:SS", "HHMMSS"; the separator between hour, minute and
// second is '-', ':' or none, the same both times. Fills `stamp` and returns
// true when the time is there and no digit follows it.
bool ReadTime(std::string_view name, std::size_t pos, NameTimestamp& stamp) {
  pos = SkipOneOf(name, pos, "_T-");
  const std::optional<int> hour = DigitsAt(name, pos, 2);
  if (!hour) return false;
  pos += 2;
  const std::string_view separator =
      pos < name.size() && (name[pos] == '-' || name[pos] == ':') ? name.substr(pos, 1) : "";
  pos += separator.size();
  const std::optional<int> minute = DigitsAt(name, pos, 2);
  if (!minute) return false;
  pos += 2;
  if (name.substr(pos, separator.size()) != separator) return false;
  pos += separator.size();
  const std::optional<int> second = DigitsAt(name, pos, 2);
  if (!second) return false;
  pos += 2;
  if (!NumberEndsAt(name, pos)) return false;
  stamp.hour = *hour;
  stamp.minute = *minute;
  stamp.second = *second;
  stamp.end = pos;
  return true;
}

// A timestamp whose year starts at `pos`: YYYYMMDD or YYYY-MM-DD, then an
// optional time (ReadTime). Without a time, or when the time is not whole,
// the date alone counts if no digit follows it. Impossible dates still
// match here (they consume the name), and are refused by LocalTime.
std::optional<NameTimestamp> ReadTimestamp(std::string_view name, std::size_t pos) {
  NameTimestamp stamp;
  const std::optional<int> year = DigitsAt(name, pos, 4);
  if (!year) return std::nullopt;
  pos += 4;
  const bool dashed = pos < name.size() && name[pos] == '-';
  if (dashed) ++pos;
  const std::optional<int> month = DigitsAt(name, pos, 2);
  if (!month) return std::nullopt;
  pos += 2;
  if (dashed) {
    if (pos >= name.size() || name[pos] != '-') return std::nullopt;
    ++pos;
  }
  const std::optional<int> day = DigitsAt(name, pos, 2);
  if (!day) return std::nullopt;
  pos += 2;
  stamp.year = *year;
  stamp.month = *month;
  stamp.day = *day;
  if (ReadTime(name, pos, stamp)) return stamp;
  if (!NumberEndsAt(name, pos)) return std::nullopt;
  stamp.end = pos;
  return stamp;
}

}  // namespace

std::optional<std::time_t> TimestampFromFileName(const std::string& name) {
  std::optional<std::time_t> latest_in_name;
  // A timestamp starts the name or follows a non-digit that no earlier
  // timestamp took: after one, the search goes on past the character that
  // ended it, so timestamps never overlap.
  std::size_t free_from = 0;
  for (std::size_t begin = 0; begin < name.size(); ++begin) {
    const bool may_begin = begin == 0 || (begin - 1 >= free_from && !IsDigit(name[begin - 1]));
    if (!may_begin) continue;
    const std::optional<NameTimestamp> stamp = ReadTimestamp(name, begin);
    if (!stamp) continue;
    const auto time =
        LocalTime(stamp->year, stamp->month, stamp->day, stamp->hour, stamp->minute, stamp->second);
    if (time) latest_in_name = time;
    free_from = stamp->end;
    begin = stamp->end - 1;  // the loop's ++ moves to the end; it cannot begin there
  }
  return latest_in_name;
}

}  // namespace caloria
