#include "collectors/backup/backup_verifier.h"

#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>
#include <stdexcept>
#include <string>
#include <vector>

#include "tests/unit/test_support.h"

namespace caloria {
namespace {

using ::caloria::testing::Gzip;
using ::caloria::testing::TempDir;

namespace fs = std::filesystem;

Deadline Generous() { return Deadline::After(std::chrono::minutes(1)); }

// A plain-SQL pg_dump with `users` rows in public.users. Each row carries a
// pseudo-random token so that large dumps do not compress to almost nothing.
std::string SyntheticDump(int users, bool complete = true, const std::string& table = "users") {
  std::string text =
      "--\n"
      "-- PostgreSQL database dump\n"
      "--\n"
      "\n"
      "SET statement_timeout = 0;\n"
      "SET client_encoding = 'UTF8';\n"
      "\n"
      "CREATE TABLE public." +
      table +
      " (\n    id integer NOT NULL,\n    email text NOT NULL\n);\n\n"
      "COPY public.meals (id, name) FROM stdin;\n1\tporridge\n2\tsoup\n\\.\n\n"
      "COPY public." +
      table + " (id, email) FROM stdin;\n";
  std::mt19937 random(12345);
  for (int i = 1; i <= users; ++i) {
    text += std::to_string(i) + "\tuser" + std::to_string(i) + "." + std::to_string(random()) +
            "@example.com\n";
  }
  text += "\\.\n\n";
  if (complete) text += "--\n-- PostgreSQL database dump complete\n--\n\n";
  return text;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << "cannot write " << path;
}

// Writes `text` with zlib's file API, as a gzip tool would.
void WriteGzipFile(const std::string& path, const std::string& text) {
  gzFile file = gzopen(path.c_str(), "wb6");
  ASSERT_NE(file, nullptr);
  constexpr std::size_t kPiece = 100 * 1000;
  for (std::size_t at = 0; at < text.size(); at += kPiece) {
    const std::size_t size = std::min(kPiece, text.size() - at);
    ASSERT_EQ(gzwrite(file, text.data() + at, static_cast<unsigned>(size)), static_cast<int>(size));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

bool Contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// An SQLite database file with a users table of `users` rows and, when
// asked, enough other data to span many pages.
void WriteSqliteBackup(const std::string& path, int users, bool with_users_table = true,
                       int filler_rows = 0) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, nullptr),
            SQLITE_OK);
  std::string sql = "PRAGMA page_size=4096; BEGIN;";
  if (with_users_table) {
    sql += "CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT NOT NULL);";
    for (int i = 1; i <= users; ++i) {
      sql += "INSERT INTO users (email) VALUES ('user" + std::to_string(i) + "@example.com');";
    }
  }
  sql += "CREATE TABLE meals (id INTEGER PRIMARY KEY, user_id INTEGER, note TEXT);";
  sql += "CREATE INDEX meals_by_user ON meals(user_id);";
  for (int i = 1; i <= filler_rows; ++i) {
    sql += "INSERT INTO meals (user_id, note) VALUES (" + std::to_string(i % 7) +
           ", printf('%.1000c', 'm'));";
  }
  sql += "COMMIT;";
  char* message = nullptr;
  const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &message);
  EXPECT_EQ(rc, SQLITE_OK) << (message ? message : "");
  sqlite3_free(message);
  ASSERT_EQ(sqlite3_close(db), SQLITE_OK);
}

void ExpectVerified(const BackupVerification& result, std::int64_t users) {
  EXPECT_TRUE(result.verified) << result.error;
  EXPECT_EQ(result.error, "");
  EXPECT_EQ(result.users, users);
  EXPECT_FALSE(result.timed_out);
}

// ---- gzipped pg_dump ---------------------------------------------------------

TEST(BackupVerifier, ValidGzipDumpIsVerifiedWithItsUsers) {
  TempDir dir;
  const std::string path = dir.File("caloria_20250724_203033.sql.gz");
  const std::string text = SyntheticDump(1000);
  WriteGzipFile(path, text);
  const auto result = VerifyGzipDump(path, "users", Generous());
  ExpectVerified(result, 1000);
  EXPECT_EQ(result.uncompressed_bytes, text.size());
  ExpectVerified(VerifyBackupFile(path, "users", Generous()), 1000);
}

TEST(BackupVerifier, LargeGzipDumpSpanningManyReadsIsVerified) {
  TempDir dir;
  const std::string path = dir.File("big.sql.gz");
  const std::string text = SyntheticDump(200000);  // ~7 MB of SQL, ~2 MB of gzip
  WriteGzipFile(path, text);
  ASSERT_GT(fs::file_size(path), 3u * 256 * 1024) << "the file should span several reads";
  const auto result = VerifyBackupFile(path, "users", Generous());
  ExpectVerified(result, 200000);
  EXPECT_EQ(result.uncompressed_bytes, text.size());
}

TEST(BackupVerifier, UsersTableNameIsConfigurable) {
  TempDir dir;
  const std::string path = dir.File("accounts.sql.gz");
  WriteGzipFile(path, SyntheticDump(12, true, "accounts"));
  ExpectVerified(VerifyBackupFile(path, "accounts", Generous()), 12);
  const auto as_users = VerifyBackupFile(path, "users", Generous());
  EXPECT_TRUE(as_users.verified);
  EXPECT_EQ(as_users.users, std::nullopt);
}

TEST(BackupVerifier, GzipWithoutItsLastEightBytesIsTruncated) {
  TempDir dir;
  const std::string path = dir.File("cut.sql.gz");
  const std::string gz = Gzip(SyntheticDump(1000));
  WriteFile(path, gz.substr(0, gz.size() - 8));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "truncated")) << result.error;
  EXPECT_FALSE(result.timed_out);
}

TEST(BackupVerifier, GzipCutInHalfIsTruncated) {
  TempDir dir;
  const std::string path = dir.File("half.sql.gz");
  const std::string gz = Gzip(SyntheticDump(1000));
  WriteFile(path, gz.substr(0, gz.size() / 2));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "truncated")) << result.error;
}

TEST(BackupVerifier, GzipCutAnywhereIsNeverVerified) {
  TempDir dir;
  const std::string path = dir.File("cut.sql.gz");
  const std::string gz = Gzip(SyntheticDump(100000));
  ASSERT_GT(gz.size(), 2u * 256 * 1024 + 10);
  for (const std::size_t keep :
       {std::size_t{1}, std::size_t{2}, std::size_t{10}, std::size_t{11}, std::size_t{256 * 1024},
        std::size_t{256 * 1024 + 1}, std::size_t{2 * 256 * 1024}, gz.size() / 2, gz.size() - 9,
        gz.size() - 4, gz.size() - 1}) {
    WriteFile(path, gz.substr(0, keep));
    const auto result = VerifyGzipDump(path, "users", Generous());
    EXPECT_FALSE(result.verified) << "kept " << keep << " of " << gz.size() << " bytes";
    EXPECT_TRUE(Contains(result.error, "truncated"))
        << "kept " << keep << " bytes: " << result.error;
  }
}

TEST(BackupVerifier, FlippedByteInTheMiddleIsCorrupt) {
  TempDir dir;
  const std::string path = dir.File("flipped.sql.gz");
  std::string gz = Gzip(SyntheticDump(1000));
  gz[gz.size() / 2] = static_cast<char>(gz[gz.size() / 2] ^ 0x55);
  WriteFile(path, gz);
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "corrupt")) << result.error;
  EXPECT_FALSE(result.timed_out);
}

TEST(BackupVerifier, FlippedByteAnywhereInTheDataIsNeverVerified) {
  TempDir dir;
  const std::string path = dir.File("flipped.sql.gz");
  const std::string gz = Gzip(SyntheticDump(2000));
  // From the first byte after the 10-byte header to the last of the trailer.
  for (std::size_t at = 10; at < gz.size(); at += gz.size() / 37) {
    std::string bad = gz;
    bad[at] = static_cast<char>(bad[at] ^ 0x01);
    WriteFile(path, bad);
    const auto result = VerifyGzipDump(path, "users", Generous());
    EXPECT_FALSE(result.verified) << "bit flipped at byte " << at;
    EXPECT_FALSE(result.error.empty());
  }
}

TEST(BackupVerifier, WrongCrcOrLengthInTheTrailerIsCorrupt) {
  TempDir dir;
  const std::string path = dir.File("trailer.sql.gz");
  const std::string gz = Gzip(SyntheticDump(100));
  for (const std::size_t from_end : {8, 1}) {  // a CRC-32 byte, then an ISIZE byte
    std::string bad = gz;
    bad[gz.size() - from_end] = static_cast<char>(bad[gz.size() - from_end] ^ 0xff);
    WriteFile(path, bad);
    const auto result = VerifyBackupFile(path, "users", Generous());
    EXPECT_FALSE(result.verified);
    EXPECT_TRUE(Contains(result.error, "corrupt")) << result.error;
  }
}

TEST(BackupVerifier, TrailingGarbageIsNotVerified) {
  TempDir dir;
  const std::string path = dir.File("garbage.sql.gz");
  WriteFile(path, Gzip(SyntheticDump(100)) + "this is not gzip, just bytes after the end");
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_FALSE(result.error.empty());
}

TEST(BackupVerifier, TwoConcatenatedGzipMembersAreOneDump) {
  TempDir dir;
  const std::string path = dir.File("two.sql.gz");
  const std::string text = SyntheticDump(1000);
  // Split inside the users block, so the parser must carry on across members.
  const std::size_t split = text.find("\n500\t") + 3;
  WriteFile(path, Gzip(text.substr(0, split)) + Gzip(text.substr(split), 1));
  const auto result = VerifyBackupFile(path, "users", Generous());
  ExpectVerified(result, 1000);
  EXPECT_EQ(result.uncompressed_bytes, text.size());
}

TEST(BackupVerifier, ManyConcatenatedMembersAcrossReadBoundariesAreOneDump) {
  TempDir dir;
  const std::string path = dir.File("many.sql.gz");
  const std::string text = SyntheticDump(60000);
  std::string gz;
  constexpr std::size_t kPiece = 150 * 1000;
  for (std::size_t at = 0; at < text.size(); at += kPiece) gz += Gzip(text.substr(at, kPiece));
  ASSERT_GT(gz.size(), 2u * 256 * 1024);
  WriteFile(path, gz);
  ExpectVerified(VerifyBackupFile(path, "users", Generous()), 60000);
}

TEST(BackupVerifier, SecondMemberTruncatedIsTruncated) {
  TempDir dir;
  const std::string path = dir.File("two_cut.sql.gz");
  const std::string text = SyntheticDump(1000);
  const std::string second = Gzip(text.substr(text.size() / 2));
  WriteFile(path, Gzip(text.substr(0, text.size() / 2)) + second.substr(0, second.size() - 8));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "truncated")) << result.error;
}

TEST(BackupVerifier, EmptyFileIsAnError) {
  TempDir dir;
  const std::string path = dir.File("empty.sql.gz");
  WriteFile(path, "");
  for (const auto& result :
       {VerifyGzipDump(path, "users", Generous()), VerifyBackupFile(path, "users", Generous())}) {
    EXPECT_FALSE(result.verified);
    EXPECT_TRUE(Contains(result.error, "empty")) << result.error;
    EXPECT_FALSE(result.timed_out);
  }
}

TEST(BackupVerifier, MissingFileIsAnErrorNamingIt) {
  TempDir dir;
  const std::string path = dir.File("gone.sql.gz");
  for (const auto& result :
       {VerifyGzipDump(path, "users", Generous()), VerifyBackupFile(path, "users", Generous())}) {
    EXPECT_FALSE(result.verified);
    EXPECT_TRUE(Contains(result.error, path)) << result.error;
  }
}

TEST(BackupVerifier, GzipDumpWithoutCompleteMarkerIsIncomplete) {
  TempDir dir;
  const std::string path = dir.File("incomplete.sql.gz");
  WriteGzipFile(path, SyntheticDump(10, false));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "incomplete")) << result.error;
  EXPECT_EQ(result.users, 10);
  EXPECT_FALSE(result.timed_out);
}

TEST(BackupVerifier, GzipOfSomethingElseIsNotAPgDump) {
  TempDir dir;
  const std::string path = dir.File("other.sql.gz");
  WriteGzipFile(path, "just some text\nthat pg_dump did not write\n");
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "pg_dump")) << result.error;
}

TEST(BackupVerifier, GzipMagicFollowedByGarbageIsCorrupt) {
  TempDir dir;
  const std::string path = dir.File("magic.sql.gz");
  WriteFile(path, std::string("\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03", 10) +
                      std::string(1000, '\xff'));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_FALSE(result.error.empty());
}

// ---- plain SQL ------------------------------------------------------------------

TEST(BackupVerifier, PlainSqlDumpIsVerifiedByContent) {
  TempDir dir;
  const std::string path = dir.File("caloria_20250724_203033.sql.gz");  // the name lies
  const std::string text = SyntheticDump(25);
  WriteFile(path, text);
  const auto result = VerifyBackupFile(path, "users", Generous());
  ExpectVerified(result, 25);
  EXPECT_EQ(result.uncompressed_bytes, text.size());
}

TEST(BackupVerifier, PlainSqlDumpWithoutCompleteMarkerIsIncomplete) {
  TempDir dir;
  const std::string path = dir.File("caloria.sql");
  WriteFile(path, SyntheticDump(25, false));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_TRUE(Contains(result.error, "incomplete")) << result.error;
}

// ---- SQLite ----------------------------------------------------------------------

TEST(BackupVerifier, SqliteBackupIsVerifiedWithItsUsers) {
  TempDir dir;
  const std::string path = dir.File("caloria_backup_20250724_202435.db");
  WriteSqliteBackup(path, 5);
  ExpectVerified(VerifyBackupFile(path, "users", Generous()), 5);
  ExpectVerified(VerifySqliteBackup(path, "users", Generous()), 5);
}

TEST(BackupVerifier, SqliteBackupWithoutUsersTableIsVerifiedWithoutUsers) {
  TempDir dir;
  const std::string path = dir.File("nousers.db");
  WriteSqliteBackup(path, 0, /*with_users_table=*/false);
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_TRUE(result.verified) << result.error;
  EXPECT_EQ(result.users, std::nullopt);
}

TEST(BackupVerifier, SqliteTableNameIsQuotedNotInjected) {
  TempDir dir;
  const std::string path = dir.File("inject.db");
  WriteSqliteBackup(path, 5);
  const auto result = VerifyBackupFile(path, "users; DROP TABLE users; --", Generous());
  EXPECT_TRUE(result.verified) << result.error;
  EXPECT_EQ(result.users, std::nullopt);
  ExpectVerified(VerifyBackupFile(path, "users", Generous()), 5);
}

TEST(BackupVerifier, SqliteBackupWithAGarbagePageIsNotVerified) {
  TempDir dir;
  const std::string path = dir.File("corrupt.db");
  WriteSqliteBackup(path, 5, true, /*filler_rows=*/400);
  std::string bytes = ReadFile(path);
  constexpr std::size_t kPage = 4096;
  const std::size_t pages = bytes.size() / kPage;
  ASSERT_GT(pages, 20u);
  std::mt19937 random(99);
  const std::size_t page = pages / 2;
  for (std::size_t i = 0; i < kPage; ++i) bytes[page * kPage + i] = static_cast<char>(random());
  WriteFile(path, bytes);
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_FALSE(result.error.empty());
  EXPECT_FALSE(result.timed_out);
}

TEST(BackupVerifier, SqliteHeaderWithGarbageAfterItIsNotVerified) {
  TempDir dir;
  const std::string path = dir.File("header_only.db");
  WriteFile(path, std::string("SQLite format 3\0", 16) + std::string(8000, '\x5a'));
  const auto result = VerifyBackupFile(path, "users", Generous());
  EXPECT_FALSE(result.verified);
  EXPECT_FALSE(result.error.empty());
}

// ---- deadline -------------------------------------------------------------------

Deadline AlreadyExpired() { return Deadline(Deadline::Clock::now() - std::chrono::seconds(1)); }

TEST(BackupVerifier, ExpiredDeadlineTimesOutAGzipDump) {
  TempDir dir;
  const std::string path = dir.File("dump.sql.gz");
  WriteGzipFile(path, SyntheticDump(100));
  for (const auto& result : {VerifyGzipDump(path, "users", AlreadyExpired()),
                             VerifyBackupFile(path, "users", AlreadyExpired())}) {
    EXPECT_TRUE(result.timed_out);
    EXPECT_FALSE(result.verified);
  }
}

TEST(BackupVerifier, ExpiredDeadlineTimesOutAPlainDump) {
  TempDir dir;
  const std::string path = dir.File("dump.sql");
  WriteFile(path, SyntheticDump(100));
  const auto result = VerifyBackupFile(path, "users", AlreadyExpired());
  EXPECT_TRUE(result.timed_out);
  EXPECT_FALSE(result.verified);
}

TEST(BackupVerifier, ExpiredDeadlineTimesOutASqliteBackup) {
  TempDir dir;
  const std::string path = dir.File("backup.db");
  WriteSqliteBackup(path, 5, true, /*filler_rows=*/400);
  for (const auto& result : {VerifySqliteBackup(path, "users", AlreadyExpired()),
                             VerifyBackupFile(path, "users", AlreadyExpired())}) {
    EXPECT_TRUE(result.timed_out) << result.error;
    EXPECT_FALSE(result.verified);
  }
}

}  // namespace
}  // namespace caloria
