#pragma once

#include <libpq-fe.h>

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "collectors/database/libpq_params.h"
#include "config/sqlalchemy_url.h"
#include "core/deadline.h"
#include "core/result.h"

namespace caloria {

// One row of a query's result: a value per column, nullopt for NULL.
using QueryRow = std::vector<std::optional<std::string>>;
struct QueryResult {
  int columns = 0;
  std::vector<QueryRow> rows;
};

// One PostgreSQL connection, owned (PQfinish on destruction). Every call is
// bounded by a Deadline: libpq's non-blocking API is driven with poll(), so
// a server that accepts TCP but never answers costs at most the deadline.
class PostgresConnection {
 public:
  // Connects, or says why not in one line without any piece of the URL's
  // secrets (SqlalchemyUrl::Scrub: libpq quotes the host, which an unencoded
  // '@' makes a piece of the password); never blocks past the deadline.
  // Queries run read-only with statement_timeout set, so the server also
  // gives up on a query the exporter has abandoned.
  static Result<std::unique_ptr<PostgresConnection>> Connect(
      const SqlalchemyUrl& url, const Deadline& deadline,
      std::chrono::milliseconds statement_timeout);

  // The server_version parameter the server reports at connect, e.g. "15.18".
  std::string ServerVersion() const;

  // Runs one statement and returns its rows, at most `max_rows` of them (more
  // is an Error: the exporter's queries have a known, small shape).
  Result<QueryResult> Query(const std::string& sql, const Deadline& deadline, int max_rows);

  // Runs a query expected to return one row with one non-NULL column.
  Result<std::string> QuerySingleValue(const std::string& sql, const Deadline& deadline);

  struct Finisher {
    void operator()(PGconn* conn) const { PQfinish(conn); }
  };
  // Takes over a connection that is already established.
  explicit PostgresConnection(std::unique_ptr<PGconn, Finisher> conn) : conn_(std::move(conn)) {}

 private:
  std::unique_ptr<PGconn, Finisher> conn_;
};

// The exporter's libpq keyword/value pairs for a URL: the URL's own
// (UrlLibpqParams, query options last) with application_name=caloria_exporter
// and read-only sessions bounded by statement_timeout. Exposed for tests.
LibpqKeywordValues ExporterLibpqParams(const SqlalchemyUrl& url,
                                       std::chrono::milliseconds statement_timeout);

}  // namespace caloria
