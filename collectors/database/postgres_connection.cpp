#include "collectors/database/postgres_connection.h"

#include <poll.h>

#include <algorithm>
#include <cerrno>

namespace caloria {
namespace {

// libpq messages end with a newline and may span lines; logs want one line.
// Runs of whitespace (libpq indents its hints with tabs) become one space.
std::string OneLine(const std::string& message) {
  std::string out;
  for (char c : message) {
    const bool space = c == '\n' || c == '\t' || c == '\r' || c == ' ';
    if (!space) {
      out += c;
    } else if (!out.empty() && out.back() != ' ') {
      out += ' ';
    }
  }
  if (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

enum class WaitResult { kReady, kTimeout, kError };

WaitResult WaitForSocket(int socket, bool for_write, const Deadline& deadline) {
  if (socket < 0) return WaitResult::kError;
  pollfd descriptor{socket, static_cast<short>(for_write ? POLLOUT : POLLIN), 0};
  while (true) {
    const int remaining = static_cast<int>(deadline.Remaining().count());
    if (remaining <= 0) return WaitResult::kTimeout;
    const int ready = poll(&descriptor, 1, remaining);
    if (ready > 0) return WaitResult::kReady;
    if (ready == 0) return WaitResult::kTimeout;
    if (errno != EINTR) return WaitResult::kError;
  }
}

std::string TimeoutMessage(const char* what) {
  return std::string(what) + " timed out: the server did not answer within --collector.timeout";
}

}  // namespace

LibpqKeywordValues ExporterLibpqParams(const SqlalchemyUrl& url,
                                       std::chrono::milliseconds statement_timeout) {
  // Read-only and bounded on the server side too.
  return UrlLibpqParams(url,
                        {{"application_name", "caloria_exporter"},
                         {"options", "-c default_transaction_read_only=on -c statement_timeout=" +
                                         std::to_string(statement_timeout.count())}});
}

Result<std::unique_ptr<PostgresConnection>> PostgresConnection::Connect(
    const SqlalchemyUrl& url, const Deadline& deadline,
    std::chrono::milliseconds statement_timeout) {
  const auto params = ExporterLibpqParams(url, statement_timeout);
  std::vector<const char*> keywords;
  std::vector<const char*> values;
  for (const auto& [key, value] : params) {
    keywords.push_back(key.c_str());
    values.push_back(value.c_str());
  }
  keywords.push_back(nullptr);
  values.push_back(nullptr);

  std::unique_ptr<PGconn, Finisher> conn(PQconnectStartParams(keywords.data(), values.data(), 0));
  if (!conn) return Fail("out of memory starting a PostgreSQL connection");
  if (PQstatus(conn.get()) == CONNECTION_BAD) {
    return Fail(url.Scrub(OneLine(PQerrorMessage(conn.get()))));
  }
  PostgresPollingStatusType state = PGRES_POLLING_WRITING;
  while (state != PGRES_POLLING_OK) {
    if (state == PGRES_POLLING_FAILED) {
      return Fail(url.Scrub(OneLine(PQerrorMessage(conn.get()))));
    }
    const auto waited =
        WaitForSocket(PQsocket(conn.get()), state == PGRES_POLLING_WRITING, deadline);
    if (waited == WaitResult::kTimeout) return Fail(TimeoutMessage("connecting to PostgreSQL"));
    if (waited == WaitResult::kError) {
      return Fail("connecting to PostgreSQL failed: the socket closed");
    }
    state = PQconnectPoll(conn.get());
  }
  if (PQsetnonblocking(conn.get(), 1) != 0) {
    return Fail(url.Scrub(OneLine(PQerrorMessage(conn.get()))));
  }
  return std::make_unique<PostgresConnection>(std::move(conn));
}

std::string PostgresConnection::ServerVersion() const {
  const char* version = PQparameterStatus(conn_.get(), "server_version");
  if (!version) return "";
  // Debian reports "15.18 (Debian 15.18-0+deb12u1)": keep the number, which
  // is what dashboards group by; the rest belongs to the package.
  std::string text(version);
  return text.substr(0, text.find(' '));
}

Result<QueryResult> PostgresConnection::Query(const std::string& sql, const Deadline& deadline,
                                              int max_rows) {
  PGconn* conn = conn_.get();
  // The extended protocol accepts exactly one statement, so a users query can
  // never smuggle a second one in.
  if (!PQsendQueryParams(conn, sql.c_str(), 0, nullptr, nullptr, nullptr, nullptr, 0)) {
    return Fail(OneLine(PQerrorMessage(conn)));
  }
  while (true) {
    const int flushed = PQflush(conn);
    if (flushed < 0) return Fail(OneLine(PQerrorMessage(conn)));
    if (flushed == 0) break;
    if (WaitForSocket(PQsocket(conn), true, deadline) != WaitResult::kReady) {
      return Fail(TimeoutMessage("sending the query"));
    }
  }
  std::unique_ptr<PGresult, decltype(&PQclear)> last(nullptr, &PQclear);
  while (true) {
    while (PQisBusy(conn)) {
      const auto waited = WaitForSocket(PQsocket(conn), false, deadline);
      if (waited == WaitResult::kTimeout) return Fail(TimeoutMessage("the query"));
      if (waited == WaitResult::kError || !PQconsumeInput(conn)) {
        return Fail(OneLine(PQerrorMessage(conn)));
      }
    }
    PGresult* result = PQgetResult(conn);
    if (!result) break;
    last.reset(result);
  }
  if (!last) return Fail("the query returned no result");
  if (PQresultStatus(last.get()) != PGRES_TUPLES_OK) {
    return Fail(OneLine(PQresultErrorMessage(last.get())));
  }
  const int rows = PQntuples(last.get());
  const int columns = PQnfields(last.get());
  if (rows > max_rows) {
    return Fail("the query returned " + std::to_string(rows) + " rows, more than the " +
                std::to_string(max_rows) + " expected");
  }
  QueryResult out;
  out.columns = columns;
  out.rows.reserve(static_cast<std::size_t>(rows));
  for (int row = 0; row < rows; ++row) {
    QueryRow values;
    values.reserve(static_cast<std::size_t>(columns));
    for (int column = 0; column < columns; ++column) {
      if (PQgetisnull(last.get(), row, column)) {
        values.emplace_back(std::nullopt);
      } else {
        values.emplace_back(
            std::string(PQgetvalue(last.get(), row, column),
                        static_cast<std::size_t>(PQgetlength(last.get(), row, column))));
      }
    }
    out.rows.push_back(std::move(values));
  }
  return out;
}

Result<std::string> PostgresConnection::QuerySingleValue(const std::string& sql,
                                                         const Deadline& deadline) {
  Result<QueryResult> result = Query(sql, deadline, /*max_rows=*/1000);
  if (!result) return Fail(result.error());
  if (result->rows.size() != 1 || result->columns != 1) {
    return Fail("the query returned " + std::to_string(result->rows.size()) + " rows of " +
                std::to_string(result->columns) + " columns; it must return one number");
  }
  if (!result->rows[0][0]) return Fail("the query returned NULL; it must return one number");
  return *result->rows[0][0];
}

}  // namespace caloria
