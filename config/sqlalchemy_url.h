#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/secret.h"

namespace caloria {

enum class DatabaseType { kPostgresql, kSqlite };

// "postgresql" or "sqlite": the values of the type label and of
// --database.expected-type.
std::string DatabaseTypeName(DatabaseType type);

// Where an '@' after the one that ends the user info landed. SQLAlchemy ends
// the password at its first '@', so an unencoded '@' in a password leaves
// the rest of it in the host (user:S3cr@tPa55@db), the database name
// (user:S3cr@tPa55/x@db/d) or a query field without '=' (user:S3cr@t?x@db):
// the app connects somewhere else or nowhere, and those parts are pieces of
// the password. An '@' in the value of a key=value query option is read as
// the app means it and is not a stray one.
enum class StrayAt { kNone, kHost, kDatabase, kQuery };

// A query option whose value is a secret: password, sslpassword, passfile,
// and any name holding "pass", "secret" or "key" in any case. Its value is
// shown as *** and scrubbed from messages.
bool IsSecretQueryOption(std::string_view name);

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

  // The first stray '@' (see StrayAt); kNone for a URL SQLAlchemy reads as
  // its author meant.
  StrayAt stray_at = StrayAt::kNone;
  // With a stray '@', the parts that lie before the URL's last '@' or
  // straddle it, and so may hold pieces of the password: Redacted() shows
  // each as ***. The user name is hidden only when it holds an '@' itself.
  struct Hidden {
    bool username = false;
    bool host = false;
    bool port = false;
    bool database = false;
    bool query = false;
  } hidden;
  // Every piece of every secret in the URL: the password as written, decoded
  // and percent-encoded; with a stray '@', everything between the user name
  // and the last '@' in the same three forms; the values of secret query
  // options.
  SecretFragments secret_fragments;

  bool IsSqliteMemory() const;
  // The URL with every secret replaced by ***, for logs and health pages:
  // the password, the values of secret query options, and with a stray '@'
  // everything between :// and the last '@' but a user name without '@'.
  std::string Redacted() const;
  // `text` without any piece of a secret of this URL, for messages composed
  // by libpq or SQLite (which quote host names, database names and option
  // values, and so the pieces of a password split by a stray '@').
  std::string Scrub(const std::string& text) const;
};

// Parses a SQLAlchemy URL. Accepts postgresql://, postgresql+DRIVER://,
// sqlite://, sqlite+DRIVER://, and postgres:// (SQLAlchemy 1.3 accepted it,
// 1.4+ reject it; the config layer reports it as a problem rather than
// refusing to watch the database). Anything SQLAlchemy would reject, or a
// database we do not watch, is an Error: one line, never the password, with
// the fix.
Result<SqlalchemyUrl> ParseSqlalchemyUrl(const std::string& url);

}  // namespace caloria
