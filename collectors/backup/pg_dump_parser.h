#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caloria {

// Reads a plain-SQL pg_dump as it streams out of the decompressor, in
// chunks of any size, holding at most one line in memory. It learns:
//  - whether the dump is complete: pg_dump writes
//    "-- PostgreSQL database dump complete" as its very last comment, so a
//    dump cut short (disk full, killed pg_dump) lacks it;
//  - how many rows the users table holds: the lines of its
//    "COPY [schema.]users (...) FROM stdin;" block up to "\.", or the
//    "INSERT INTO [schema.]users" statements of a dump made with --inserts.
class PgDumpParser {
 public:
  explicit PgDumpParser(std::string users_table = "users");

  void Feed(std::string_view chunk);
  // Call once after the last chunk: a final line without newline counts.
  void Finish();

  bool LooksLikePgDump() const { return saw_header_; }
  bool Complete() const { return saw_complete_marker_; }
  // Rows of the users table; nullopt when the dump has no such table.
  std::optional<std::int64_t> UserRows() const;

 private:
  void Line(std::string_view line);
  bool NamesUsersTable(std::string_view table) const;

  std::string users_table_;
  std::string partial_line_;
  bool saw_header_ = false;
  bool saw_complete_marker_ = false;
  bool in_copy_ = false;        // inside a COPY ... FROM stdin; data block
  bool copy_is_users_ = false;  // ... of the users table
  bool saw_users_table_ = false;
  std::int64_t rows_ = 0;
};

}  // namespace caloria
