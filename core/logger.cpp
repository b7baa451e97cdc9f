#include "core/logger.h"

#include <chrono>
#include <ctime>
#include <nlohmann/json.hpp>
#include <ostream>

#include "core/clock.h"

namespace caloria {
namespace {

const char* LevelName(LogLevel level) {
  switch (level) {
    case LogLevel::kDebug:
      return "debug";
    case LogLevel::kInfo:
      return "info";
    case LogLevel::kWarn:
      return "warn";
    case LogLevel::kError:
      return "error";
  }
  return "info";
}

bool NeedsQuoting(const std::string& value) {
  if (value.empty()) return true;
  for (char c : value) {
    if (c <= ' ' || c == '=' || c == '"' || c == '\\' || c == 0x7f) return true;
  }
  return false;
}

// logfmt has no formal spec; this quotes the way go-logfmt does, so the
// lines parse with the same tools operators use for Prometheus' own logs.
std::string LogfmtValue(const std::string& value) {
  if (!NeedsQuoting(value)) return value;
  // JSON string escaping is what go-logfmt emits for quoted values.
  return nlohmann::json(value).dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

std::optional<LogLevel> ParseLogLevel(const std::string& text) {
  if (text == "debug") return LogLevel::kDebug;
  if (text == "info") return LogLevel::kInfo;
  if (text == "warn") return LogLevel::kWarn;
  if (text == "error") return LogLevel::kError;
  return std::nullopt;
}

std::optional<LogFormat> ParseLogFormat(const std::string& text) {
  if (text == "logfmt") return LogFormat::kLogfmt;
  if (text == "json") return LogFormat::kJson;
  return std::nullopt;
}

Logger::Logger(std::ostream& out, LogLevel level, LogFormat format)
    : out_(out), level_(level), format_(format) {}

void Logger::Log(LogLevel level, const std::string& message, const LogFields& fields) {
  if (level < level_) return;
  const std::string ts = FormatRfc3339(std::chrono::system_clock::now());
  std::string line;
  if (format_ == LogFormat::kJson) {
    nlohmann::ordered_json object;
    object["ts"] = ts;
    object["level"] = LevelName(level);
    object["msg"] = message;
    for (const auto& [key, value] : fields) object[key] = value;
    line = object.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  } else {
    line = "ts=" + ts + " level=" + LevelName(level) + " msg=" + LogfmtValue(message);
    for (const auto& [key, value] : fields) line += " " + key + "=" + LogfmtValue(value);
  }
  std::lock_guard<std::mutex> lock(mutex_);
  out_ << line << '\n' << std::flush;
}

}  // namespace caloria
