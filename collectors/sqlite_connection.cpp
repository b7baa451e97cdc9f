#include "collectors/sqlite_connection.h"

#include <sys/stat.h>

namespace caloria {
namespace {

// How many virtual machine steps between deadline checks: small enough to
// stop within milliseconds, large enough to cost nothing.
constexpr int kProgressSteps = 1000;

int AbortWhenExpired(void* context) {
  return static_cast<const Deadline*>(context)->Expired() ? 1 : 0;
}

struct StatementFinalizer {
  void operator()(sqlite3_stmt* statement) const { sqlite3_finalize(statement); }
};

}  // namespace

std::unique_ptr<SqliteConnection> SqliteConnection::Open(const std::string& path,
                                                         const Deadline& deadline,
                                                         std::string& error) {
  const bool memory = path.empty() || path == ":memory:";
  if (!memory) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
      error = "the SQLite file " + path +
              " does not exist or cannot be reached: check DATABASE_URL and, for a relative "
              "path, --database.sqlite-relative-to";
      return nullptr;
    }
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(memory ? ":memory:" : path.c_str(), &raw,
                                 SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) {
    error = "cannot open the SQLite file " + path +
            " read-only: " + (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc));
    return nullptr;
  }
  auto connection = std::make_unique<SqliteConnection>(std::move(db));
  // Opening is lazy: read the schema now, so a file that is not a database
  // (or is locked past the deadline) fails the connect, not the users query.
  const QueryValue schema = connection->QuerySingleValue("PRAGMA schema_version", deadline);
  if (!schema.value) {
    error = "cannot read the SQLite file " + path + ": " + schema.error;
    return nullptr;
  }
  return connection;
}

std::string SqliteConnection::LibraryVersion() { return sqlite3_libversion(); }

void SqliteConnection::Arm(const Deadline& deadline) {
  deadline_ = deadline;
  sqlite3_busy_timeout(db_.get(), static_cast<int>(deadline.Remaining().count()));
  sqlite3_progress_handler(db_.get(), kProgressSteps, &AbortWhenExpired, &deadline_);
}

QueryValue SqliteConnection::QuerySingleValue(const std::string& sql, const Deadline& deadline) {
  QueryValue out;
  Arm(deadline);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail) !=
      SQLITE_OK) {
    out.error = sqlite3_errmsg(db_.get());
    return out;
  }
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement(raw);
  if (!statement) {
    out.error = "the query is empty";
    return out;
  }
  const int step = sqlite3_step(statement.get());
  if (step == SQLITE_INTERRUPT) {
    out.error = "the query timed out: it ran longer than --collector.timeout";
    return out;
  }
  if (step == SQLITE_DONE) {
    out.error = "the query returned no row; it must return one number";
    return out;
  }
  if (step != SQLITE_ROW) {
    out.error = sqlite3_errmsg(db_.get());
    return out;
  }
  if (sqlite3_column_count(statement.get()) != 1) {
    out.error = "the query returned " + std::to_string(sqlite3_column_count(statement.get())) +
                " columns; it must return one number";
    return out;
  }
  if (sqlite3_column_type(statement.get(), 0) == SQLITE_NULL) {
    out.error = "the query returned NULL; it must return one number";
    return out;
  }
  out.value = reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), 0));
  if (sqlite3_step(statement.get()) == SQLITE_ROW) {
    out.value.reset();
    out.error = "the query returned more than one row; it must return one number";
  }
  return out;
}

}  // namespace caloria
