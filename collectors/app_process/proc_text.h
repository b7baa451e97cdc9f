#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace caloria {

// Pure readers of what /proc shows of another process: its command line, its
// environment, its file descriptor links and the kernel's TCP socket tables.
// Everything here is text another process (or the kernel) wrote: no
// std::regex, every input bounded by the caller.

// At most this much of a command line is matched against --app.process.
inline constexpr std::size_t kMaxCmdlineBytes = 4096;

// /proc/PID/cmdline (arguments each ended by a NUL) as the one line
// --app.process matches: NULs as spaces, trailing blanks dropped, cut at
// kMaxCmdlineBytes.
std::string CmdlineText(std::string_view raw);

// argv[0] of a /proc/PID/cmdline, cut at 256 bytes, URL passwords as ***. The
// rest of a command line is never shown: it may hold secrets.
std::string CmdlineProgram(std::string_view raw);

// `text` with the password of every "scheme://user:password@" replaced by ***.
std::string ScrubUrlPasswords(std::string text);

// The value of `name` in /proc/PID/environ (NAME=value entries, each ended by
// a NUL); the first entry wins, as getenv() and Python's os.environ read it.
// nullopt when the variable is absent.
std::optional<std::string> EnvironValue(std::string_view environ, std::string_view name);

// The inode of an fd link "socket:[12345]"; nullopt for any other link.
std::optional<std::uint64_t> SocketInode(std::string_view link);

// An IP address in network byte order, IPv4 as IPv4-mapped IPv6
// (::ffff:a.b.c.d), so that a socket of tcp and one of tcp6 compare alike.
using IpAddress = std::array<unsigned char, 16>;

// An IP literal ("10.0.0.5", "::1", "[::1]") as an IpAddress; nullopt for a
// host name, which the exporter does not resolve.
std::optional<IpAddress> ParseIpLiteral(std::string_view host);

inline constexpr int kTcpEstablished = 1;

// One line of /proc/PID/net/tcp or /proc/PID/net/tcp6.
struct TcpSocket {
  IpAddress remote{};
  int remote_port = 0;
  int state = 0;  // the kernel's TCP state: 1 ESTABLISHED, 10 LISTEN, ...
  std::uint64_t inode = 0;
};

// Parses /proc/PID/net/tcp or tcp6 (the kernel prints each address as 32-bit
// words in host byte order, the port in hex): skips the header line and any
// line it cannot read.
std::vector<TcpSocket> ParseProcNetTcp(std::string_view text);

// Whether the first bytes of a file are SQLite 3's magic "SQLite format 3\0".
bool HasSqliteHeader(std::string_view first_bytes);

// SQLite's side files, which sit beside an open database: -wal, -shm, -journal.
bool IsSqliteSideFile(std::string_view path);

// A name a SQLite database usually has: *.db, *.sqlite, *.sqlite3.
bool HasSqliteName(std::string_view path);

}  // namespace caloria
