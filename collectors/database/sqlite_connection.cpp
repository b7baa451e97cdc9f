#include "collectors/database/sqlite_connection.h"

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

Result<std::unique_ptr<SqliteConnection>> SqliteConnection::Open(const std::string& path,
                                                                 const Deadline& deadline) {
  const bool memory = path.empty() || path == ":memory:";
  if (!memory) {
    struct stat info {};
    if (stat(path.c_str(), &info) != 0) {
      return Fail("the SQLite file " + path +
                  " does not exist or cannot be reached: check DATABASE_URL and, for a relative "
                  "path, --database.sqlite-relative-to");
    }
  }
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(memory ? ":memory:" : path.c_str(), &raw,
                                 SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  std::unique_ptr<sqlite3, Closer> db(raw);
  if (rc != SQLITE_OK) {
    return Fail("cannot open the SQLite file " + path +
                " read-only: " + (db ? sqlite3_errmsg(db.get()) : sqlite3_errstr(rc)));
  }
  auto connection = std::make_unique<SqliteConnection>(std::move(db));
  // Opening is lazy: read the schema now, so a file that is not a database
  // (or is locked past the deadline) fails the connect, not the users query.
  const Result<std::string> schema =
      connection->QuerySingleValue("PRAGMA schema_version", deadline);
  if (!schema) return Fail("cannot read the SQLite file " + path + ": " + schema.error());
  return connection;
}

std::string SqliteConnection::LibraryVersion() { return sqlite3_libversion(); }

void SqliteConnection::Arm(const Deadline& deadline) {
  deadline_ = deadline;
  sqlite3_busy_timeout(db_.get(), static_cast<int>(deadline.Remaining().count()));
  sqlite3_progress_handler(db_.get(), kProgressSteps, &AbortWhenExpired, &deadline_);
}

Result<std::string> SqliteConnection::QuerySingleValue(const std::string& sql,
                                                       const Deadline& deadline) {
  Arm(deadline);
  sqlite3_stmt* raw = nullptr;
  const char* tail = nullptr;
  if (sqlite3_prepare_v2(db_.get(), sql.c_str(), static_cast<int>(sql.size()), &raw, &tail) !=
      SQLITE_OK) {
    return Fail(sqlite3_errmsg(db_.get()));
  }
  std::unique_ptr<sqlite3_stmt, StatementFinalizer> statement(raw);
  if (!statement) return Fail("the query is empty");
  const int step = sqlite3_step(statement.get());
  if (step == SQLITE_INTERRUPT) {
    return Fail("the query timed out: it ran longer than --collector.timeout");
  }
  if (step == SQLITE_DONE) return Fail("the query returned no row; it must return one number");
  if (step != SQLITE_ROW) return Fail(sqlite3_errmsg(db_.get()));
  if (sqlite3_column_count(statement.get()) != 1) {
    return Fail("the query returned " + std::to_string(sqlite3_column_count(statement.get())) +
                " columns; it must return one number");
  }
  if (sqlite3_column_type(statement.get(), 0) == SQLITE_NULL) {
    return Fail("the query returned NULL; it must return one number");
  }
  std::string value = reinterpret_cast<const char*>(sqlite3_column_text(statement.get(), 0));
  if (sqlite3_step(statement.get()) == SQLITE_ROW) {
    return Fail("the query returned more than one row; it must return one number");
  }
  return value;
}

}  // namespace caloria
