#include "collectors/backup/pg_dump_parser.h"

#include <utility>

namespace caloria {
namespace {

constexpr std::string_view kHeader = "-- PostgreSQL database dump";
constexpr std::string_view kCompleteMarker = "-- PostgreSQL database dump complete";
constexpr std::string_view kCopy = "COPY ";
constexpr std::string_view kInsert = "INSERT INTO ";
// A COPY data line is never this long in a users table; a longer one is
// only counted, not buffered, so a hostile dump cannot exhaust memory.
constexpr std::size_t kMaxBufferedLine = 64 * 1024;

bool StartsWith(std::string_view text, std::string_view prefix) {
  return text.substr(0, prefix.size()) == prefix;
}

// "public.users" -> "users", "\"public\".\"users\"" -> "users".
std::string_view Unqualified(std::string_view table) {
  const auto dot = table.rfind('.');
  if (dot != std::string_view::npos) table.remove_prefix(dot + 1);
  if (table.size() >= 2 && table.front() == '"' && table.back() == '"') {
    table = table.substr(1, table.size() - 2);
  }
  return table;
}

// The table name right after a COPY or INSERT INTO keyword.
std::string_view TableAfter(std::string_view line, std::size_t keyword_size) {
  line.remove_prefix(keyword_size);
  const auto end = line.find_first_of(" (");
  return line.substr(0, end);
}

}  // namespace

PgDumpParser::PgDumpParser(std::string users_table) : users_table_(std::move(users_table)) {}

bool PgDumpParser::NamesUsersTable(std::string_view table) const {
  return Unqualified(table) == users_table_;
}

void PgDumpParser::Feed(std::string_view chunk) {
  while (!chunk.empty()) {
    const auto newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      if (partial_line_.size() < kMaxBufferedLine) {
        partial_line_.append(chunk.substr(0, kMaxBufferedLine - partial_line_.size()));
      }
      return;
    }
    if (partial_line_.empty()) {
      Line(chunk.substr(0, newline));
    } else {
      if (partial_line_.size() < kMaxBufferedLine) {
        partial_line_.append(chunk.substr(0, std::min(newline, kMaxBufferedLine)));
      }
      Line(partial_line_);
      partial_line_.clear();
    }
    chunk.remove_prefix(newline + 1);
  }
}

void PgDumpParser::Finish() {
  if (!partial_line_.empty()) {
    Line(partial_line_);
    partial_line_.clear();
  }
}

void PgDumpParser::Line(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  // Inside any COPY block every line is data, even one that looks like a
  // comment or a statement: only "\\." ends it.
  if (in_copy_) {
    if (line == "\\.") {
      in_copy_ = false;
    } else if (copy_is_users_) {
      ++rows_;
    }
    return;
  }
  if (StartsWith(line, "--")) {
    if (StartsWith(line, kHeader)) saw_header_ = true;
    if (line == kCompleteMarker) saw_complete_marker_ = true;
    return;
  }
  if (StartsWith(line, kCopy)) {
    constexpr std::string_view kFromStdin = " FROM stdin;";
    in_copy_ = line.size() >= kFromStdin.size() &&
               line.substr(line.size() - kFromStdin.size()) == kFromStdin;
    copy_is_users_ = NamesUsersTable(TableAfter(line, kCopy.size()));
    if (copy_is_users_) saw_users_table_ = true;
    return;
  }
  if (StartsWith(line, kInsert) && NamesUsersTable(TableAfter(line, kInsert.size()))) {
    saw_users_table_ = true;
    ++rows_;
  }
}

std::optional<std::int64_t> PgDumpParser::UserRows() const {
  if (!saw_users_table_) return std::nullopt;
  return rows_;
}

}  // namespace caloria
