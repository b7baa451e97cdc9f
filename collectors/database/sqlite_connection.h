#pragma once

#include <sqlite3.h>

#include <memory>
#include <string>

#include "core/deadline.h"
#include "core/result.h"

namespace caloria {

// One read-only SQLite handle, owned (sqlite3_close_v2 on destruction). The
// exporter must never create or change the app's database file, so it opens
// with SQLITE_OPEN_READONLY (a WAL-mode file without its -wal and -shm files
// immutable=1, because a read-only open would create both beside it); the
// deadline bounds lock waits (busy timeout) and long statements (progress
// handler).
class SqliteConnection {
 public:
  // path "" or ":memory:" opens an empty in-memory database, as the app would.
  static Result<std::unique_ptr<SqliteConnection>> Open(const std::string& path,
                                                        const Deadline& deadline);

  // The SQLite library version, e.g. "3.40.1": SQLite has no server.
  static std::string LibraryVersion();

  // Runs a query expected to return one row with one non-NULL column.
  Result<std::string> QuerySingleValue(const std::string& sql, const Deadline& deadline);

  struct Closer {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
  };
  explicit SqliteConnection(std::unique_ptr<sqlite3, Closer> db) : db_(std::move(db)) {}

 private:
  void Arm(const Deadline& deadline);

  std::unique_ptr<sqlite3, Closer> db_;
  Deadline deadline_ = Deadline::After(std::chrono::seconds(0));
};

}  // namespace caloria
