#include "collectors/app_process/proc_text.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace caloria {
namespace {

constexpr std::size_t kMaxProgramBytes = 256;

// A whole field as an unsigned number in `base`; nullopt for anything else.
template <typename T>
std::optional<T> Number(std::string_view field, int base) {
  T value{};
  const auto [end, error] = std::from_chars(field.data(), field.data() + field.size(), value, base);
  if (field.empty() || error != std::errc() || end != field.data() + field.size()) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> Fields(std::string_view line) {
  std::vector<std::string_view> fields;
  std::size_t at = 0;
  while (at < line.size()) {
    const auto begin = line.find_first_not_of(" \t", at);
    if (begin == std::string_view::npos) break;
    auto end = line.find_first_of(" \t", begin);
    if (end == std::string_view::npos) end = line.size();
    fields.push_back(line.substr(begin, end - begin));
    at = end;
  }
  return fields;
}

IpAddress MappedIpv4(const unsigned char (&v4)[4]) {
  IpAddress address{};
  address[10] = 0xff;
  address[11] = 0xff;
  std::memcpy(address.data() + 12, v4, 4);
  return address;
}

// "0100007F" (tcp) or 32 hex digits (tcp6): 32-bit words, each printed by the
// kernel as the host-order number of the bytes it holds in network order, so
// storing each number back in host order gives those bytes again.
std::optional<IpAddress> ParseKernelAddress(std::string_view hex) {
  if (hex.size() != 8 && hex.size() != 32) return std::nullopt;
  unsigned char bytes[16] = {};
  for (std::size_t word = 0; word < hex.size() / 8; ++word) {
    const auto value = Number<std::uint32_t>(hex.substr(word * 8, 8), 16);
    if (!value) return std::nullopt;
    std::memcpy(bytes + word * 4, &*value, 4);
  }
  if (hex.size() == 8) {
    const unsigned char v4[4] = {bytes[0], bytes[1], bytes[2], bytes[3]};
    return MappedIpv4(v4);
  }
  IpAddress address{};
  std::memcpy(address.data(), bytes, 16);
  return address;
}

}  // namespace

std::string CmdlineText(std::string_view raw) {
  std::string text(raw.substr(0, kMaxCmdlineBytes));
  for (char& c : text) {
    if (c == '\0') c = ' ';
  }
  const auto last = text.find_last_not_of(' ');
  text.resize(last == std::string::npos ? 0 : last + 1);
  return text;
}

std::string CmdlineProgram(std::string_view raw) {
  const auto end = raw.find('\0');
  std::string_view program = raw.substr(0, end);
  return ScrubUrlPasswords(std::string(program.substr(0, kMaxProgramBytes)));
}

std::string ScrubUrlPasswords(std::string text) {
  std::size_t at = 0;
  while ((at = text.find("://", at)) != std::string::npos) {
    const std::size_t begin = at + 3;
    // Up to the next blank or quote: a password may hold '/' or '@' written
    // raw, so the last '@' there ends the user part (over-scrubbing a query
    // is safe, under-scrubbing is not).
    std::size_t end = text.find_first_of(std::string_view(" \t\n\"'\0", 6), begin);
    if (end == std::string::npos) end = text.size();
    const std::size_t at_sign = text.rfind('@', end == 0 ? 0 : end - 1);
    if (at_sign != std::string::npos && at_sign >= begin) {
      const std::size_t colon = text.find(':', begin);
      if (colon != std::string::npos && colon < at_sign) {
        text.replace(colon + 1, at_sign - colon - 1, "***");
        end = colon + 1 + 3 + (end - at_sign);
      }
    }
    at = end;
  }
  return text;
}

std::optional<std::string> EnvironValue(std::string_view environ, std::string_view name) {
  std::size_t at = 0;
  while (at < environ.size()) {
    auto end = environ.find('\0', at);
    if (end == std::string_view::npos) end = environ.size();
    const std::string_view entry = environ.substr(at, end - at);
    if (entry.size() > name.size() && entry.substr(0, name.size()) == name &&
        entry[name.size()] == '=') {
      return std::string(entry.substr(name.size() + 1));
    }
    at = end + 1;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> SocketInode(std::string_view link) {
  constexpr std::string_view kPrefix = "socket:[";
  if (link.size() <= kPrefix.size() + 1 || link.substr(0, kPrefix.size()) != kPrefix ||
      link.back() != ']') {
    return std::nullopt;
  }
  return Number<std::uint64_t>(link.substr(kPrefix.size(), link.size() - kPrefix.size() - 1), 10);
}

std::optional<IpAddress> ParseIpLiteral(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host.empty() || host.size() > 64) return std::nullopt;
  const std::string text(host);
  unsigned char v4[4] = {};
  if (inet_pton(AF_INET, text.c_str(), v4) == 1) return MappedIpv4(v4);
  IpAddress v6{};
  if (inet_pton(AF_INET6, text.c_str(), v6.data()) == 1) return v6;
  return std::nullopt;
}

std::vector<TcpSocket> ParseProcNetTcp(std::string_view text) {
  std::vector<TcpSocket> sockets;
  std::size_t at = 0;
  while (at < text.size()) {
    auto end = text.find('\n', at);
    if (end == std::string_view::npos) end = text.size();
    const auto fields = Fields(text.substr(at, end - at));
    at = end + 1;
    // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
    if (fields.size() < 10 || fields[0].empty() || fields[0].back() != ':') continue;
    const auto colon = fields[2].find(':');
    if (colon == std::string_view::npos) continue;
    const auto remote = ParseKernelAddress(fields[2].substr(0, colon));
    const auto port = Number<unsigned>(fields[2].substr(colon + 1), 16);
    const auto state = Number<unsigned>(fields[3], 16);
    const auto inode = Number<std::uint64_t>(fields[9], 10);
    if (!remote || !port || *port > 65535 || !state || !inode) continue;
    sockets.push_back({*remote, static_cast<int>(*port), static_cast<int>(*state), *inode});
  }
  return sockets;
}

bool HasSqliteHeader(std::string_view first_bytes) {
  constexpr std::string_view kMagic("SQLite format 3\0", 16);
  return first_bytes.size() >= kMagic.size() && first_bytes.substr(0, kMagic.size()) == kMagic;
}

bool IsSqliteSideFile(std::string_view path) {
  return path.ends_with("-wal") || path.ends_with("-shm") || path.ends_with("-journal");
}

bool HasSqliteName(std::string_view path) {
  return path.ends_with(".db") || path.ends_with(".sqlite") || path.ends_with(".sqlite3");
}

}  // namespace caloria
