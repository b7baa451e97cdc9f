#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace caloria {

// How much of a long dump line PgDumpParser keeps: see its comment.
inline constexpr std::size_t kPgDumpLineHeadBytes = 64 * 1024;

// Reads a plain-SQL pg_dump as it streams out of the decompressor, in
// chunks of any size, holding a bounded part of one line in memory. It learns:
//  - whether the dump is complete: pg_dump writes
//    "-- PostgreSQL database dump complete" as its very last comment, so a
//    dump cut short (disk full, killed pg_dump) lacks it;
//  - how many rows the users table holds: the lines of its
//    "COPY [schema.]users (...) FROM stdin;" block up to "\.", or the
//    "INSERT INTO [schema.]users" statements of a dump made with --inserts.
//
// Lines of any length are counted. Of a line longer than `line_head_bytes`
// (64 KiB unless a test asks for less) only its first `line_head_bytes` and
// its last 16 bytes are kept: every decision reads the start of a line (a
// keyword, a table name: at most 63 bytes in PostgreSQL, quoted and
// qualified) or its end (" FROM stdin;"), so a COPY row of a 100 MB bytea or
// a COPY statement with thousands of columns is judged as it would be whole,
// and memory stays bounded whatever the input. The result does not depend
// on how the input is cut into chunks.
class PgDumpParser {
 public:
  explicit PgDumpParser(std::string users_table = "users",
                        std::size_t line_head_bytes = kPgDumpLineHeadBytes);

  void Feed(std::string_view chunk);
  // Call once after the last chunk: a final line without newline counts.
  void Finish();

  bool LooksLikePgDump() const { return saw_header_; }
  bool Complete() const { return saw_complete_marker_; }
  // Rows of the users table; nullopt when the dump has no such table.
  std::optional<std::int64_t> UserRows() const;

 private:
  // A line as the parser judges it: its first bytes and its last bytes.
  // For a line up to the head size both are the whole line.
  struct LineView {
    std::string_view head;
    std::string_view end;
    bool whole = true;
  };

  void Append(std::string_view piece);
  void EndPendingLine();
  LineView ViewOf(std::string_view line) const;
  void Line(LineView line);
  bool NamesUsersTable(std::string_view table) const;

  std::string users_table_;
  std::size_t line_head_bytes_;
  // The line read so far, when it spans chunks (empty: none): its head, and
  // once it is longer than that (line_cut_), its last bytes.
  std::string line_head_;
  std::string line_end_;
  bool line_cut_ = false;
  bool saw_header_ = false;
  bool saw_complete_marker_ = false;
  bool in_copy_ = false;        // inside a COPY ... FROM stdin; data block
  bool copy_is_users_ = false;  // ... of the users table
  bool saw_users_table_ = false;
  std::int64_t rows_ = 0;
};

}  // namespace caloria
