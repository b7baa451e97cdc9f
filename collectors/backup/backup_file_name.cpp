#include "collectors/backup/backup_file_name.h"

#include <regex>

namespace caloria {
namespace {

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

}  // namespace

std::optional<std::time_t> TimestampFromFileName(const std::string& name) {
  // Digits must not touch other digits, so "1234567890123456" or a version
  // number is never read as a date.
  static const std::regex kPattern(
      R"((?:^|[^0-9])(\d{4})(-?)(\d{2})\2(\d{2})(?:[_T\-]?(\d{2})([-:]?)(\d{2})\6(\d{2}))?(?=[^0-9]|$))");
  std::optional<std::time_t> latest_in_name;
  for (auto it = std::sregex_iterator(name.begin(), name.end(), kPattern);
       it != std::sregex_iterator(); ++it) {
    const std::smatch& m = *it;
    const auto number = [&](int group) { return m[group].matched ? std::stoi(m[group]) : 0; };
    const auto time = LocalTime(number(1), number(3), number(4), number(5), number(7), number(8));
    if (time) latest_in_name = time;
  }
  return latest_in_name;
}

}  // namespace caloria
