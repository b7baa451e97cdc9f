#include "collectors/backup/backup_verifier.h"

#include <zlib.h>

#include <array>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#include "collectors/backup/pg_dump_parser.h"
#include "collectors/database/sqlite_connection.h"
#include "core/unique_handles.h"

namespace caloria {
namespace {

constexpr std::size_t kChunk = 256 * 1024;

// Owns a zlib inflate stream; inflateEnd on destruction.
class Inflater {
 public:
  Inflater() {
    // 16 + MAX_WBITS: gzip wrapper only, so zlib checks the CRC-32 and the
    // length in each member's trailer.
    ok_ = inflateInit2(&stream_, 16 + MAX_WBITS) == Z_OK;
  }
  ~Inflater() {
    if (ok_) inflateEnd(&stream_);
  }
  Inflater(const Inflater&) = delete;
  Inflater& operator=(const Inflater&) = delete;

  bool ok() const { return ok_; }
  z_stream& stream() { return stream_; }

 private:
  z_stream stream_{};
  bool ok_ = false;
};

BackupVerification Failed(std::string error) {
  BackupVerification result;
  result.error = std::move(error);
  return result;
}

BackupVerification TimedOut() {
  BackupVerification result = Failed("verification did not finish within its deadline");
  result.timed_out = true;
  return result;
}

// Judges the SQL a backup holds once it has been read whole.
BackupVerification JudgeDump(const PgDumpParser& parser, std::uint64_t bytes) {
  BackupVerification result;
  result.uncompressed_bytes = bytes;
  result.users = parser.UserRows();
  if (!parser.LooksLikePgDump()) {
    result.error = "not a plain-SQL pg_dump (no \"-- PostgreSQL database dump\" header)";
  } else if (!parser.Complete()) {
    result.error =
        "the dump is incomplete: pg_dump's closing \"-- PostgreSQL database dump complete\" "
        "line is missing";
  } else {
    result.verified = true;
  }
  return result;
}

enum class Kind { kGzip, kSqlite, kText, kUnreadable };

Kind Sniff(const std::string& path) {
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return Kind::kUnreadable;
  std::array<unsigned char, 16> head{};
  const std::size_t got = std::fread(head.data(), 1, head.size(), file.get());
  if (got >= 2 && head[0] == 0x1f && head[1] == 0x8b) return Kind::kGzip;
  if (got == 16 && std::memcmp(head.data(), "SQLite format 3", 16) == 0) return Kind::kSqlite;
  return Kind::kText;
}

}  // namespace

BackupVerification VerifyGzipDump(const std::string& path, const std::string& users_table,
                                  const Deadline& deadline) {
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return Failed("cannot open " + path + ": " + std::strerror(errno));
  Inflater inflater;
  if (!inflater.ok()) return Failed("zlib could not start");
  z_stream& stream = inflater.stream();
  std::vector<unsigned char> in(kChunk);
  std::vector<unsigned char> out(kChunk);
  PgDumpParser parser(users_table);
  std::uint64_t bytes = 0;
  bool member_open = false;  // inside a gzip member whose trailer is not read yet
  bool any_member = false;

  while (true) {
    if (deadline.Expired()) return TimedOut();
    stream.avail_in = static_cast<uInt>(std::fread(in.data(), 1, in.size(), file.get()));
    if (std::ferror(file.get()))
      return Failed("read error in " + path + ": " + std::strerror(errno));
    if (stream.avail_in == 0) break;
    stream.next_in = in.data();
    // Inflate until this chunk is used up and zlib has no output pending.
    while (true) {
      if (!member_open && any_member) {
        if (stream.avail_in == 0) break;
        // Another member follows (concatenated gzip files are valid, as for
        // gzip -t); start it afresh. Trailing garbage fails its header check.
        if (inflateReset(&stream) != Z_OK) return Failed("zlib could not reset");
      }
      member_open = true;
      any_member = true;
      stream.next_out = out.data();
      stream.avail_out = static_cast<uInt>(out.size());
      const int rc = inflate(&stream, Z_NO_FLUSH);
      const std::size_t produced = out.size() - stream.avail_out;
      parser.Feed(std::string_view(reinterpret_cast<const char*>(out.data()), produced));
      bytes += produced;
      if (rc == Z_STREAM_END) {
        member_open = false;
        continue;
      }
      if (rc == Z_DATA_ERROR) {
        return Failed(std::string("corrupt gzip data (") + (stream.msg ? stream.msg : "bad data") +
                      ")");
      }
      if (rc != Z_OK && rc != Z_BUF_ERROR) return Failed("corrupt gzip data");
      if (stream.avail_out != 0) break;  // all output written: zlib wants more input
    }
  }
  if (!any_member) return Failed("the file is empty");
  if (member_open) return Failed("the gzip file is truncated: its end (CRC and length) is missing");
  parser.Finish();
  return JudgeDump(parser, bytes);
}

BackupVerification VerifySqliteBackup(const std::string& path, const std::string& users_table,
                                      const Deadline& deadline) {
  auto db = SqliteConnection::Open(path, deadline);
  if (!db) return Failed(db.error());
  const Result<std::string> check = (*db)->QuerySingleValue("PRAGMA quick_check", deadline);
  if (deadline.Expired()) return TimedOut();
  if (!check) return Failed("PRAGMA quick_check failed: " + check.error());
  if (*check != "ok") return Failed("PRAGMA quick_check found damage: " + *check);
  BackupVerification result;
  result.verified = true;
  // Quoted as an identifier, so a table name from a flag cannot inject SQL.
  std::string quoted = "\"";
  for (char c : users_table) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  quoted += "\"";
  const Result<std::string> users =
      (*db)->QuerySingleValue("SELECT count(*) FROM " + quoted, deadline);
  if (users) result.users = std::strtoll(users->c_str(), nullptr, 10);
  return result;
}

BackupVerification VerifyBackupFile(const std::string& path, const std::string& users_table,
                                    const Deadline& deadline) {
  switch (Sniff(path)) {
    case Kind::kGzip:
      return VerifyGzipDump(path, users_table, deadline);
    case Kind::kSqlite:
      return VerifySqliteBackup(path, users_table, deadline);
    case Kind::kUnreadable:
      return Failed("cannot open " + path + ": " + std::strerror(errno));
    case Kind::kText:
      break;
  }
  UniqueFile file(std::fopen(path.c_str(), "rb"));
  if (!file) return Failed("cannot open " + path + ": " + std::strerror(errno));
  PgDumpParser parser(users_table);
  std::vector<char> buffer(kChunk);
  std::uint64_t bytes = 0;
  while (const std::size_t got = std::fread(buffer.data(), 1, buffer.size(), file.get())) {
    if (deadline.Expired()) return TimedOut();
    parser.Feed(std::string_view(buffer.data(), got));
    bytes += got;
  }
  if (bytes == 0) return Failed("the file is empty");
  parser.Finish();
  return JudgeDump(parser, bytes);
}

}  // namespace caloria
