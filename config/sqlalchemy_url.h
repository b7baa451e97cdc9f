#pragma once

#include <map>
#include <optional>
#include <string>

#include "core/result.h"
#include "core/secret.h"

namespace caloria {

enum class DatabaseType { kPostgresql, kSqlite };

// "postgresql" or "sqlite": the values of the type label and of
// --database.expected-type.
std::string DatabaseTypeName(DatabaseType type);

// A database URL as SQLAlchemy's make_url() reads it:
//   dialect[+driver]://[user[:password]@][host][:port][/database][?key=value&...]
// User, password, host and database are percent-decoded.
struct SqlalchemyUrl {
  DatabaseType type = DatabaseType::kSqlite;
  std::string dialect;  // as written, lower-cased: "postgresql", "postgres", "sqlite"
  std::string driver;   // after "+", e.g. "psycopg2"; empty when absent
  std::string username;
  Secret password;
  std::string host;  // may be an IPv6 literal without brackets
  std::optional<int> port;
  // For PostgreSQL the database name; for SQLite the file path exactly as
  // SQLAlchemy gives it to sqlite3 ("" or ":memory:" means in-memory,
  // "relative.db", "/absolute.db").
  std::string database;
  std::multimap<std::string, std::string> query;  // decoded ?key=value pairs

  bool IsSqliteMemory() const;
  // The URL with the password replaced by ***, for logs and health pages.
  std::string Redacted() const;
};

// Parses a SQLAlchemy URL. Accepts postgresql://, postgresql+DRIVER://,
// sqlite://, sqlite+DRIVER://, and postgres:// (SQLAlchemy 1.3 accepted it,
// 1.4+ reject it; the config layer reports it as a problem rather than
// refusing to watch the database). Anything SQLAlchemy would reject, or a
// database we do not watch, is an Error: one line, never the password, with
// the fix.
Result<SqlalchemyUrl> ParseSqlalchemyUrl(const std::string& url);

}  // namespace caloria
