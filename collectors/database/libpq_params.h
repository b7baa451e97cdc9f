#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "config/sqlalchemy_url.h"
#include "core/result.h"
#include "core/secret.h"

namespace caloria {

// libpq keyword/value pairs, in order: a later keyword overrides an earlier one.
using LibpqKeywordValues = std::vector<std::pair<std::string, std::string>>;

// The connection a SQLAlchemy URL names, in libpq's words, as psycopg2 hands
// it over: host, port, dbname, user and password from the URL, then
// `defaults` (the caller's own application_name, options, ...), then the
// URL's query options (sslmode, ...), last so that they override, as
// psycopg2 gives them precedence. The exporter's connection and
// caloria_backup_tool's pg_dump both start from here, so they reach the same
// server, database and user.
LibpqKeywordValues UrlLibpqParams(const SqlalchemyUrl& url, const LibpqKeywordValues& defaults);

// A value written for a keyword/value connection string the way libpq reads
// it: in single quotes, with \ and ' escaped by a backslash ('it\'s').
std::string QuoteConninfoValue(std::string_view value);

// A connection string for a command line (pg_dump --dbname=...) and the
// password kept apart from it, for PGPASSWORD in the child's environment.
struct PasswordlessConninfo {
  std::string conninfo;  // keyword='value' ..., never a password
  Secret password;       // the last password= given (libpq's rule); empty when none
};

// Renders the pairs as a keyword/value connection string without any
// password= pair; the password (from the URL or a ?password= query option)
// goes into `password`. An Error, naming neither value nor password, when a
// keyword is not a libpq keyword (a-z, 0-9, _) or a value holds a NUL
// byte, which neither a command line nor an environment can carry.
Result<PasswordlessConninfo> SplitPassword(const LibpqKeywordValues& params);

}  // namespace caloria
