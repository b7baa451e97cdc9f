#include "collectors/backup/pg_dump_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <optional>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace caloria {
namespace {

// What the parser learned about one dump.
struct Outcome {
  bool looks_like_pg_dump = false;
  bool complete = false;
  std::optional<std::int64_t> users;
  bool operator==(const Outcome& other) const {
    return looks_like_pg_dump == other.looks_like_pg_dump && complete == other.complete &&
           users == other.users;
  }
};

void PrintTo(const Outcome& outcome, std::ostream* out) {
  *out << "{pg_dump=" << outcome.looks_like_pg_dump << " complete=" << outcome.complete
       << " users=" << (outcome.users ? std::to_string(*outcome.users) : "nullopt") << "}";
}

Outcome Result(const PgDumpParser& parser) {
  return {parser.LooksLikePgDump(), parser.Complete(), parser.UserRows()};
}

// Feeds `text` whole, then Finish().
Outcome ParseWhole(std::string_view text, const std::string& users_table = "users") {
  PgDumpParser parser(users_table);
  parser.Feed(text);
  parser.Finish();
  return Result(parser);
}

// Feeds `text` in chunks whose sizes `next_size` picks, then Finish().
Outcome ParseChunked(std::string_view text, const std::function<std::size_t()>& next_size) {
  PgDumpParser parser;
  while (!text.empty()) {
    const std::size_t size = std::min(text.size(), std::max<std::size_t>(1, next_size()));
    parser.Feed(text.substr(0, size));
    text.remove_prefix(size);
  }
  parser.Finish();
  return Result(parser);
}

// The start of a plain-SQL dump as pg_dump 16/17 writes it.
constexpr std::string_view kPreamble =
    "--\n"
    "-- PostgreSQL database dump\n"
    "--\n"
    "\n"
    "\\restrict 1a2b3c4d5e6f\n"
    "\n"
    "-- Dumped from database version 16.4\n"
    "-- Dumped by pg_dump version 16.4\n"
    "\n"
    "SET statement_timeout = 0;\n"
    "SET client_encoding = 'UTF8';\n"
    "SELECT pg_catalog.set_config('search_path', '', false);\n"
    "\n"
    "CREATE TABLE public.users (\n"
    "    id integer NOT NULL,\n"
    "    email character varying(255) NOT NULL\n"
    ");\n"
    "\n";

// The end of a complete dump.
constexpr std::string_view kEpilogue =
    "\n"
    "--\n"
    "-- PostgreSQL database dump complete\n"
    "--\n"
    "\n"
    "\\unrestrict 1a2b3c4d5e6f\n"
    "\n";

std::string CopyBlock(std::string_view table, int rows) {
  std::string block = "COPY " + std::string(table) + " (id, email) FROM stdin;\n";
  for (int i = 1; i <= rows; ++i) {
    block += std::to_string(i) + "\tuser" + std::to_string(i) + "@example.com\n";
  }
  block += "\\.\n\n";
  return block;
}

// A realistic dump: meals before the users, an archive table after them.
std::string Dump(int users, bool complete = true, std::string_view users_table = "public.users") {
  std::string text(kPreamble);
  text += "COPY public.meals (id, user_id, name) FROM stdin;\n1\t1\tporridge\n2\t1\tsoup\n\\.\n\n";
  text += CopyBlock(users_table, users);
  text += CopyBlock("public.users_archive", 7);
  text += "SELECT pg_catalog.setval('public.users_id_seq', 42, true);\n";
  if (complete) text += kEpilogue;
  return text;
}

TEST(PgDumpParser, CompleteDumpCountsTheUsersCopyRows) {
  EXPECT_EQ(ParseWhole(Dump(3)), (Outcome{true, true, 3}));
}

TEST(PgDumpParser, UsersTableMayBeQuotedOrUnqualified) {
  EXPECT_EQ(ParseWhole(Dump(4, true, "\"public\".\"users\"")), (Outcome{true, true, 4}));
  EXPECT_EQ(ParseWhole(Dump(5, true, "users")), (Outcome{true, true, 5}));
  EXPECT_EQ(ParseWhole(Dump(6, true, "\"users\"")), (Outcome{true, true, 6}));
}

TEST(PgDumpParser, OtherTablesCopyBlocksAreNotCounted) {
  std::string text(kPreamble);
  text += CopyBlock("public.users_archive", 10);
  text += CopyBlock("public.meals", 20);
  text += CopyBlock("public.app_users", 30);
  text += CopyBlock("\"public\".\"users_old\"", 40);
  text += CopyBlock("public.users", 2);
  text += CopyBlock("public.old_users", 50);
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 2}));
}

TEST(PgDumpParser, RowsOfOtherTablesThatLookLikeStatementsAreData) {
  // A table of SQL statements (an audit log, say): inside its COPY block,
  // every line is a row of that table, whatever it says.
  std::string text(kPreamble);
  text += "COPY public.audit_log (statement) FROM stdin;\n";
  text += "INSERT INTO users VALUES (1, 'a@example.com');\n";
  text += "INSERT INTO public.users VALUES (2, 'b@example.com');\n";
  text += "\\.\n\n";
  text += CopyBlock("public.users", 3);
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 3}));
}

TEST(PgDumpParser, CompleteMarkerInsideAnotherTablesDataDoesNotCompleteTheDump) {
  // A one-column table whose row is pg_dump's closing line, and a dump cut
  // off right after it: the marker was data, so the dump is not complete.
  std::string text(kPreamble);
  text += CopyBlock("public.users", 3);
  text += "COPY public.notes (body) FROM stdin;\n";
  text += "-- PostgreSQL database dump complete\n";
  EXPECT_EQ(ParseWhole(text), (Outcome{true, false, 3}));
}

TEST(PgDumpParser, UsersTableNameIsConfigurable) {
  std::string text(kPreamble);
  text += CopyBlock("public.users", 3);
  text += CopyBlock("public.accounts", 8);
  text += kEpilogue;
  PgDumpParser parser("accounts");
  parser.Feed(text);
  parser.Finish();
  EXPECT_EQ(Result(parser), (Outcome{true, true, 8}));
}

TEST(PgDumpParser, InsertsStyleDumpCountsInsertStatements) {
  std::string text(kPreamble);
  text += "INSERT INTO public.meals VALUES (1, 1, 'porridge');\n";
  for (int i = 1; i <= 4; ++i) {
    text += "INSERT INTO public.users VALUES (" + std::to_string(i) + ", 'u" + std::to_string(i) +
            "@example.com');\n";
  }
  text += "INSERT INTO public.users_archive VALUES (9, 'old@example.com');\n";
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 4}));
}

TEST(PgDumpParser, ColumnInsertsStyleDumpCountsInsertStatements) {
  std::string text(kPreamble);
  text += "INSERT INTO public.users (id, email) VALUES (1, 'a@example.com');\n";
  text += "INSERT INTO \"public\".\"users\" (id, email) VALUES (2, 'b@example.com');\n";
  text += "INSERT INTO users (id, email) VALUES (3, 'c@example.com');\n";
  text += "INSERT INTO public.users_archive (id, email) VALUES (4, 'd@example.com');\n";
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 3}));
}

TEST(PgDumpParser, DumpWithoutCompleteMarkerIsNotComplete) {
  EXPECT_EQ(ParseWhole(Dump(3, false)), (Outcome{true, false, 3}));
}

TEST(PgDumpParser, DumpCutInsideTheUsersBlockIsNotComplete) {
  const std::string full = Dump(10);
  const std::string cut = full.substr(0, full.find("user6@"));
  const Outcome outcome = ParseWhole(cut);
  EXPECT_TRUE(outcome.looks_like_pg_dump);
  EXPECT_FALSE(outcome.complete);
}

TEST(PgDumpParser, TextWithoutHeaderIsNotAPgDump) {
  const Outcome outcome = ParseWhole(
      "CREATE TABLE users (id integer);\n"
      "INSERT INTO users VALUES (1);\n");
  EXPECT_FALSE(outcome.looks_like_pg_dump);
  EXPECT_FALSE(outcome.complete);
  EXPECT_EQ(ParseWhole("").looks_like_pg_dump, false);
  EXPECT_EQ(ParseWhole("hello world\n").looks_like_pg_dump, false);
}

TEST(PgDumpParser, CompleteMarkerMustBeTheWholeLine) {
  std::string text = Dump(1, false);
  text += "-- PostgreSQL database dump completed by a script\n";
  text += "SELECT '-- PostgreSQL database dump complete';\n";
  EXPECT_FALSE(ParseWhole(text).complete);
}

TEST(PgDumpParser, EmptyUsersTableHasZeroRowsNotNone) {
  EXPECT_EQ(ParseWhole(Dump(0)), (Outcome{true, true, 0}));
}

TEST(PgDumpParser, DumpWithoutUsersTableHasNoUserRows) {
  std::string text(kPreamble);
  text += CopyBlock("public.meals", 5);
  text += CopyBlock("public.users_archive", 5);
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, std::nullopt}));
}

TEST(PgDumpParser, EveryTwoWaySplitGivesTheSameResult) {
  const std::string text = Dump(5);
  const Outcome whole = ParseWhole(text);
  EXPECT_EQ(whole, (Outcome{true, true, 5}));
  // However the bytes arrive, the parser learns what it learns from them whole.
  for (std::size_t split = 0; split <= text.size(); ++split) {
    PgDumpParser parser;
    parser.Feed(std::string_view(text).substr(0, split));
    parser.Feed(std::string_view(text).substr(split));
    parser.Finish();
    ASSERT_EQ(Result(parser), whole) << "split at byte " << split;
  }
}

TEST(PgDumpParser, OneByteAtATimeGivesTheSameResult) {
  EXPECT_EQ(ParseChunked(Dump(5), [] { return 1; }), (Outcome{true, true, 5}));
  for (const std::string& text : {Dump(5), Dump(0), Dump(3, false)}) {
    EXPECT_EQ(ParseChunked(text, [] { return 1; }), ParseWhole(text));
  }
}

TEST(PgDumpParser, RandomChunkSizesGiveTheSameResult) {
  const std::string text = Dump(500);
  const Outcome whole = ParseWhole(text);
  EXPECT_EQ(whole, (Outcome{true, true, 500}));
  for (unsigned seed = 1; seed <= 50; ++seed) {
    std::mt19937 random(seed);
    std::uniform_int_distribution<std::size_t> size(1, 200);
    EXPECT_EQ(ParseChunked(text, [&] { return size(random); }), whole) << "seed " << seed;
  }
}

TEST(PgDumpParser, EmptyChunksChangeNothing) {
  const std::string text = Dump(2);
  PgDumpParser parser;
  parser.Feed("");
  parser.Feed(std::string_view(text).substr(0, 100));
  parser.Feed("");
  parser.Feed(std::string_view(text).substr(100));
  parser.Feed("");
  parser.Finish();
  EXPECT_EQ(Result(parser), (Outcome{true, true, 2}));
}

TEST(PgDumpParser, CrlfLineEndingsAreUnderstood) {
  std::string text;
  for (const char c : Dump(4)) {
    if (c == '\n') text += '\r';
    text += c;
  }
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 4}));
  EXPECT_EQ(ParseWhole(text), ParseWhole(Dump(4)));
  std::mt19937 random(7);
  std::uniform_int_distribution<std::size_t> size(1, 5);
  EXPECT_EQ(ParseChunked(text, [&] { return size(random); }), (Outcome{true, true, 4}));
}

TEST(PgDumpParser, FinalLineWithoutNewlineCountsAfterFinish) {
  std::string text = Dump(2, false);
  text += "--\n-- PostgreSQL database dump complete";
  PgDumpParser parser;
  parser.Feed(text);
  EXPECT_FALSE(parser.Complete()) << "the last line is not known to be whole before Finish()";
  parser.Finish();
  EXPECT_TRUE(parser.Complete());

  // A users row as the very last bytes counts too.
  std::string cut(kPreamble);
  cut += "COPY public.users (id, email) FROM stdin;\n1\ta@example.com\n2\tb@example.com";
  EXPECT_EQ(ParseWhole(cut), (Outcome{true, false, 2}));
}

TEST(PgDumpParser, FinishTwiceChangesNothing) {
  std::string text = Dump(2, false);
  text += "--\n-- PostgreSQL database dump complete";
  PgDumpParser parser;
  parser.Feed(text);
  parser.Finish();
  parser.Finish();
  EXPECT_EQ(Result(parser), (Outcome{true, true, 2}));
}

// Peak resident memory of this process so far, in kB (Linux).
long PeakRssKb() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("VmHWM:", 0) == 0) return std::stol(line.substr(6));
  }
  return -1;
}

TEST(PgDumpParser, TenMegabyteLineInChunksDoesNotGrowMemory) {
  constexpr std::size_t kLine = 10 * 1024 * 1024;
  constexpr std::size_t kChunk = 64 * 1024;
  const std::string chunk(kChunk, 'x');
  const long before = PeakRssKb();
  PgDumpParser parser;
  parser.Feed(kPreamble);
  parser.Feed("COPY public.users (id, email) FROM stdin;\n1\t");
  for (std::size_t fed = 0; fed < kLine; fed += kChunk) parser.Feed(chunk);
  parser.Feed("@example.com\n2\tb@example.com\n\\.\n");
  parser.Feed(kEpilogue);
  parser.Finish();
  EXPECT_EQ(Result(parser), (Outcome{true, true, 2}));
  const long after = PeakRssKb();
  if (before > 0 && after > 0) {
    EXPECT_LT(after - before, 4 * 1024) << "the parser held on to the long line";
  }
}

TEST(PgDumpParser, TenMegabyteLineInOneChunkIsHandled) {
  std::string text(kPreamble);
  text += "COPY public.users (id, email) FROM stdin;\n1\t";
  text += std::string(10 * 1024 * 1024, 'y');
  text += "\n2\tb@example.com\n\\.\n";
  text += kEpilogue;
  EXPECT_EQ(ParseWhole(text), (Outcome{true, true, 2}));
  std::mt19937 random(3);
  std::uniform_int_distribution<std::size_t> size(1, 3 * 1024 * 1024);
  EXPECT_EQ(ParseChunked(text, [&] { return size(random); }), (Outcome{true, true, 2}));
}

TEST(PgDumpParser, TenMegabyteLineWithoutNewlineIsHandled) {
  const std::string line(10 * 1024 * 1024, 'z');
  PgDumpParser parser;
  parser.Feed(line);
  parser.Finish();
  EXPECT_EQ(Result(parser), (Outcome{false, false, std::nullopt}));
}

}  // namespace
}  // namespace caloria
