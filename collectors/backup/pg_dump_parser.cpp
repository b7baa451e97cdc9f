#include "collectors/backup/pg_dump_parser.h"

#include <algorithm>
#include <utility>

namespace caloria {
namespace {

constexpr std::string_view kHeader = "-- PostgreSQL database dump";
constexpr std::string_view kCompleteMarker = "-- PostgreSQL database dump complete";
constexpr std::string_view kCopy = "COPY ";
constexpr std::string_view kInsert = "INSERT INTO ";
constexpr std::string_view kFromStdin = " FROM stdin;";
// The end of a line kept beyond its head: " FROM stdin;" and a CR.
constexpr std::size_t kLineEndBytes = 16;

// "public.users" -> "users", "\"public\".\"users\"" -> "users".
std::string_view Unqualified(std::string_view table) {
  const auto dot = table.rfind('.');
  if (dot != std::string_view::npos) table.remove_prefix(dot + 1);
  if (table.size() >= 2 && table.front() == '"' && table.back() == '"') {
    table = table.substr(1, table.size() - 2);
  }
  return table;
}

}  // namespace

PgDumpParser::PgDumpParser(std::string users_table, std::size_t line_head_bytes)
    : users_table_(std::move(users_table)),
      line_head_bytes_(std::max(line_head_bytes, kLineEndBytes)) {}

bool PgDumpParser::NamesUsersTable(std::string_view table) const {
  return Unqualified(table) == users_table_;
}

void PgDumpParser::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const auto newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      Append(chunk);
      return;
    }
    if (line_head_.empty()) {
      // The whole line is in this chunk: judged where it lies, not copied.
      Line(ViewOf(chunk.substr(0, newline)));
    } else {
      Append(chunk.substr(0, newline));
      EndPendingLine();
    }
    chunk.remove_prefix(newline + 1);
  }
}

// Adds a piece of the current line: to its head while there is room, and
// past that only its last kLineEndBytes are kept, so a line that never ends
// cannot grow memory.
void PgDumpParser::Append(std::string_view piece) {
  if (!line_cut_) {
    const std::size_t room = line_head_bytes_ - line_head_.size();
    if (piece.size() <= room) {
      line_head_.append(piece);
      return;
    }
    line_head_.append(piece.substr(0, room));
    piece.remove_prefix(room);
    line_cut_ = true;
    line_end_.assign(line_head_, line_head_.size() - kLineEndBytes, kLineEndBytes);
  }
  if (piece.size() >= kLineEndBytes) {
    line_end_.assign(piece.substr(piece.size() - kLineEndBytes));
    return;
  }
  line_end_.append(piece);
  line_end_.erase(0, line_end_.size() - kLineEndBytes);
}

// The same view of a line held whole in a chunk as Append builds piece by
// piece, so that chunking never changes a result.
PgDumpParser::LineView PgDumpParser::ViewOf(std::string_view line) const {
  if (line.size() <= line_head_bytes_) return {line, line, true};
  return {line.substr(0, line_head_bytes_), line.substr(line.size() - kLineEndBytes), false};
}

void PgDumpParser::EndPendingLine() {
  Line(line_cut_ ? LineView{line_head_, line_end_, false} : LineView{line_head_, line_head_, true});
  line_head_.clear();
  line_end_.clear();
  line_cut_ = false;
}

void PgDumpParser::Finish() {
  if (!line_head_.empty()) EndPendingLine();
}

void PgDumpParser::Line(LineView line) {
  if (!line.end.empty() && line.end.back() == '\r') {
    line.end.remove_suffix(1);
    if (line.whole) line.head = line.end;
  }
  // A line cut short is longer than any of the short lines compared whole.
  const auto is = [&line](std::string_view text) { return line.whole && line.head == text; };
  // Inside any COPY block every line is data, even one that looks like a
  // comment or a statement: only "\\." ends it.
  if (in_copy_) {
    if (is("\\.")) {
      in_copy_ = false;
    } else if (copy_is_users_) {
      ++rows_;
    }
    return;
  }
  if (line.head.starts_with("--")) {
    if (line.head.starts_with(kHeader)) saw_header_ = true;
    if (is(kCompleteMarker)) saw_complete_marker_ = true;
    return;
  }
  // The table name right after COPY or INSERT INTO; one that runs past the
  // head of a cut line is not known, so it is not the users table.
  const auto names_users = [&](std::size_t keyword_size) {
    const std::string_view rest = line.head.substr(keyword_size);
    const auto end = rest.find_first_of(" (");
    if (end == std::string_view::npos && !line.whole) return false;
    return NamesUsersTable(rest.substr(0, end));
  };
  if (line.head.starts_with(kCopy)) {
    in_copy_ = line.end.ends_with(kFromStdin);
    copy_is_users_ = names_users(kCopy.size());
    if (copy_is_users_) saw_users_table_ = true;
    return;
  }
  if (line.head.starts_with(kInsert) && names_users(kInsert.size())) {
    saw_users_table_ = true;
    ++rows_;
  }
}

std::optional<std::int64_t> PgDumpParser::UserRows() const {
  if (!saw_users_table_) return std::nullopt;
  return rows_;
}

}  // namespace caloria
