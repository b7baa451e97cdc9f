#include "core/clock.h"

#include <cstdio>
#include <ctime>

namespace caloria {
namespace {

std::tm UtcCalendar(SystemTime time) {
  const std::time_t seconds = std::chrono::system_clock::to_time_t(time);
  std::tm calendar{};
  gmtime_r(&seconds, &calendar);
  return calendar;
}

long long SubsecondMicros(SystemTime time) {
  const auto micros =
      std::chrono::duration_cast<std::chrono::microseconds>(time.time_since_epoch()).count();
  return ((micros % 1000000) + 1000000) % 1000000;
}

std::string FormatCalendar(const std::tm& c) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%04d-%02d-%02dT%02d:%02d:%02d", c.tm_year + 1900,
                c.tm_mon + 1, c.tm_mday, c.tm_hour, c.tm_min, c.tm_sec);
  return buffer;
}

}  // namespace

std::string FormatRfc3339(SystemTime time) {
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03lld", SubsecondMicros(time) / 1000);
  return FormatCalendar(UtcCalendar(time)) + millis + "Z";
}

std::string FormatIsoMicros(SystemTime time) {
  char micros[16];
  std::snprintf(micros, sizeof micros, ".%06lld", SubsecondMicros(time));
  return FormatCalendar(UtcCalendar(time)) + micros + "+00:00";
}

double UnixSeconds(SystemTime time) {
  return std::chrono::duration<double>(time.time_since_epoch()).count();
}

SystemTime FromUnixSeconds(double seconds) {
  return SystemTime(
      std::chrono::duration_cast<SystemTime::duration>(std::chrono::duration<double>(seconds)));
}

}  // namespace caloria
