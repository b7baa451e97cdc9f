#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/sqlalchemy_url.h"
#include "core/result.h"

namespace caloria {

// What the running app's own health page says, as the seed's app writes it:
//   {"database": "POSTGRESQL", "status": "healthy",
//    "timestamp": "2025-07-24T20:28:53.144251", "user_count": 3}
// Every text comes from outside the process: it is kept to printable ASCII
// and 64 characters before it reaches a page or a label.
struct AppHealth {
  // `database` as the app wrote it; nullopt when absent, empty or not text.
  std::optional<std::string> database;
  // POSTGRESQL or SQLITE, in any case; nullopt when absent or another value.
  std::optional<DatabaseType> database_type;
  // The type label: "postgresql", "sqlite", or another value lower-cased,
  // with every character but [a-z0-9_.+-] as '_'.
  std::optional<std::string> type_label;
  std::optional<std::string> status;  // lower-cased
  std::optional<std::string> timestamp;
  std::optional<double> user_count;  // a whole number, at least 0
  // One line for each of database, status and user_count that is missing or
  // not what the seed's app writes; empty when they all are.
  std::vector<std::string> problems;
};

// Reads the body of the app's health page. Missing or odd fields are
// tolerated (and listed in `problems`); a body that is not a JSON object is
// an Error, one line that does not quote the body.
Result<AppHealth> ParseAppHealth(std::string_view body);

}  // namespace caloria
