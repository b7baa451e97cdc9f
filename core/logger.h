#pragma once

#include <iosfwd>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace caloria {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarn = 2, kError = 3 };
enum class LogFormat { kLogfmt, kJson };

std::optional<LogLevel> ParseLogLevel(const std::string& text);
std::optional<LogFormat> ParseLogFormat(const std::string& text);

using LogFields = std::vector<std::pair<std::string, std::string>>;

// Structured logging in the style of Prometheus' own exporters (go-kit/slog):
// one line per event, "ts=... level=... msg=... key=value" or one JSON
// object. Callers pass only redacted values; the logger does not inspect them.
class Logger {
 public:
  Logger(std::ostream& out, LogLevel level, LogFormat format);

  void Log(LogLevel level, const std::string& message, const LogFields& fields = {});
  void Debug(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kDebug, message, fields);
  }
  void Info(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kInfo, message, fields);
  }
  void Warn(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kWarn, message, fields);
  }
  void Error(const std::string& message, const LogFields& fields = {}) {
    Log(LogLevel::kError, message, fields);
  }

 private:
  std::ostream& out_;
  LogLevel level_;
  LogFormat format_;
  std::mutex mutex_;
};

}  // namespace caloria
