#include "collectors/database/sqlite_connection.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cctype>

#include "core/unique_handles.h"

namespace caloria {
namespace {

// A WAL-mode database (header bytes 18 and 19 are 2) without its -wal and
// -shm files has no connection open. A read-only open of it would create
// both, owned by the exporter's user, and leave them behind with a fresh
// mtime, where an app running as another user may then fail to write.
bool WalModeWithoutSideFiles(const std::string& path) {
  const UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (fd.get() < 0) return false;
  unsigned char header[20] = {};
  const ssize_t got = ::pread(fd.get(), header, sizeof header, 0);
  if (got != static_cast<ssize_t>(sizeof header) || header[18] != 2 || header[19] != 2) {
    return false;
  }
  struct stat info {};
  return stat((path + "-wal").c_str(), &info) != 0 || stat((path + "-shm").c_str(), &info) != 0;
}

// "file:" URI for sqlite3_open_v2 with SQLITE_OPEN_URI: the path with every
// byte but unreserved ones and '/' percent-encoded, then immutable=1, which
// reads the file without locks and without creating -wal or -shm.
std::string ImmutableUri(const std::string& path) {
  static const char* kHex = "0123456789ABCDEF";
  std::string uri = "file:";
  for (const char c : path) {
    const auto byte = static_cast<unsigned char>(c);
    if (std::isalnum(byte) || c == '/' || c == '.' || c == '_' || c == '-' || c == '~') {
      uri += c;
    } else {
      uri += '%';
      uri += kHex[byte >> 4];
      uri += kHex[byte & 0xF];
    }
  }
  return uri + "?immutable=1";
}

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
  // Nothing writes to a WAL-mode file without side files at this moment, so
  // reading it immutable is safe, and leaves nothing behind.
  const bool immutable = !memory && WalModeWithoutSideFiles(path);
  const std::string name = memory ? ":memory:" : immutable ? ImmutableUri(path) : path;
  sqlite3* raw = nullptr;
  const int rc = sqlite3_open_v2(
      name.c_str(), &raw,
      SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX | (immutable ? SQLITE_OPEN_URI : 0), nullptr);
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
