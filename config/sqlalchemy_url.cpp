#include "config/sqlalchemy_url.h"

#include <algorithm>
#include <cstddef>
#include <regex>
#include <string_view>

namespace caloria {
namespace {

constexpr std::string_view kPostgresqlForm = "postgresql://USER:PASSWORD@HOST:PORT/DBNAME";
constexpr std::string_view kAnyForm =
    "postgresql://USER:PASSWORD@HOST:PORT/DBNAME or sqlite:///PATH.db";
constexpr std::string_view kSqliteForms =
    "sqlite:///RELATIVE/PATH.db, sqlite:////ABSOLUTE/PATH.db or sqlite:// (in memory)";
constexpr std::string_view kEncodePasswordHint =
    "percent-encode @ : / ? % inside the user name and password (@ is %40)";

// std::regex matches recursively, so a pathological value could exhaust the
// stack; no real database URL comes anywhere near this.
constexpr std::size_t kMaxUrlLength = 4096;

// Longest text from the URL that an error message may quote.
constexpr std::size_t kMaxQuotedLength = 40;

// SQLAlchemy 2.x engine/url.py _parse_url, group for group. Differences are
// only in spelling: \w is written out as ASCII (a non-ASCII dialect name is
// rejected either way) and "." becomes [^\n] because ECMAScript's "." also
// stops at \r, Python's only at \n. Matching is backtracking with the same
// priorities in both engines, so every group captures the same text.
const std::regex& UrlPattern() {
  static const std::regex pattern(
      "([A-Za-z0-9_+]+)://"
      "(?:([^:/]*)(?::([^@]*))?@)?"
      "(?:(?:\\[([^/?]+)\\]|([^/:?]+))?(?::([^/?]*))?)?"
      "(?:/([^?]*))?"
      "(?:\\?([^\\n]*))?");
  return pattern;
}

// The regex groups before decoding; nullopt where SQLAlchemy would see None.
struct RawUrl {
  std::string name;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> host;
  std::optional<std::string> port;
  std::optional<std::string> database;
  std::optional<std::string> query;
  bool has_userinfo = false;
  // True when an '@' follows the user info: the password most likely holds a
  // raw '@', so host and port are pieces of it and must not be quoted.
  bool credentials_may_spill = false;
};

Error Invalid(std::string_view reason, std::string_view fix) {
  return Fail("DATABASE_URL is not a valid SQLAlchemy URL (" + std::string(reason) +
              "): " + std::string(fix));
}

bool IsAsciiSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

bool IsAsciiDigit(char c) { return c >= '0' && c <= '9'; }

bool IsAsciiAlnum(char c) {
  return IsAsciiDigit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

std::string AsciiLower(std::string_view text) {
  std::string lower(text);
  for (char& c : lower) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lower;
}

// Whether a piece of the URL is harmless to repeat in a one-line message.
bool IsQuotable(std::string_view text) {
  if (text.size() > kMaxQuotedLength) return false;
  for (const char c : text) {
    if (c < 0x20 || c > 0x7e) return false;
  }
  return true;
}

Status CheckShape(const std::string& url) {
  if (url.empty()) {
    return Fail("DATABASE_URL is empty: set it to a SQLAlchemy URL such as " +
                std::string(kAnyForm));
  }
  if (IsAsciiSpace(url.front()) || IsAsciiSpace(url.back())) {
    // SQLAlchemy would keep trailing blanks in the database name or query,
    // and a quoted env file value is the usual way they get there.
    return Invalid(
        "it has leading or trailing whitespace",
        "remove the surrounding spaces, tabs or line breaks (check the quotes in the env file)");
  }
  if (url.size() > kMaxUrlLength) {
    return Invalid("it is longer than " + std::to_string(kMaxUrlLength) + " characters",
                   "write it as " + std::string(kAnyForm));
  }
  return {};
}

std::optional<std::string> Group(const std::smatch& match, int index) {
  if (!match[index].matched) return std::nullopt;
  return match[index].str();
}

Result<RawUrl> MatchUrl(const std::string& url) {
  std::smatch match;
  // match_continuous anchors at the start only, like Python's re.match.
  if (!std::regex_search(url, match, UrlPattern(), std::regex_constants::match_continuous)) {
    return Invalid("it does not start with a dialect name followed by ://",
                   "write it as " + std::string(kAnyForm));
  }
  RawUrl raw;
  raw.name = match[1].str();
  raw.username = Group(match, 2);
  raw.password = Group(match, 3);
  // SQLAlchemy takes ipv4host or ipv6host; at most one of them matches.
  raw.host = match[4].matched ? Group(match, 4) : Group(match, 5);
  raw.port = Group(match, 6);
  raw.database = Group(match, 7);
  raw.query = Group(match, 8);
  raw.has_userinfo = raw.username.has_value();
  if (raw.has_userinfo) {
    // The user info group ends with the '@' right after the last group in it.
    const auto& last = raw.password ? match[3] : match[2];
    const auto after_at = static_cast<std::size_t>(last.second - url.begin()) + 1;
    raw.credentials_may_spill = url.find('@', after_at) != std::string::npos;
  }
  return raw;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// urllib.parse.unquote: %XY becomes the byte XY; a '%' not followed by two
// hex digits stays as it is.
std::string PercentDecode(std::string_view text) {
  std::string decoded;
  decoded.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '%' && i + 2 < text.size() && HexValue(text[i + 1]) >= 0 &&
        HexValue(text[i + 2]) >= 0) {
      decoded += static_cast<char>(HexValue(text[i + 1]) * 16 + HexValue(text[i + 2]));
      i += 2;
    } else {
      decoded += text[i];
    }
  }
  return decoded;
}

std::string PlusDecode(std::string_view text) {
  std::string spaced(text);
  for (char& c : spaced) {
    if (c == '+') c = ' ';
  }
  return PercentDecode(spaced);
}

// urllib.parse.parse_qsl with its defaults: '&' separates, a field without
// '=' or with an empty value is dropped, repeated keys are all kept.
std::multimap<std::string, std::string> ParseQuery(std::string_view query) {
  std::multimap<std::string, std::string> pairs;
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view field = query.substr(start, end - start);
    const std::size_t equals = field.find('=');
    if (equals != std::string_view::npos && equals + 1 < field.size()) {
      pairs.emplace(PlusDecode(field.substr(0, equals)), PlusDecode(field.substr(equals + 1)));
    }
    start = end + 1;
  }
  return pairs;
}

// Python's int() on ASCII text: surrounding whitespace, a sign and single
// underscores between digits are allowed. The magnitude saturates, which is
// enough to tell a port from a number out of range.
std::optional<long long> ParsePythonInt(std::string_view text) {
  while (!text.empty() && IsAsciiSpace(text.front())) text.remove_prefix(1);
  while (!text.empty() && IsAsciiSpace(text.back())) text.remove_suffix(1);
  bool negative = false;
  if (!text.empty() && (text.front() == '+' || text.front() == '-')) {
    negative = text.front() == '-';
    text.remove_prefix(1);
  }
  if (text.empty() || !IsAsciiDigit(text.front()) || !IsAsciiDigit(text.back())) {
    return std::nullopt;
  }
  constexpr long long kSaturation = 1'000'000'000;
  long long value = 0;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '_' && IsAsciiDigit(text[i + 1])) continue;
    if (!IsAsciiDigit(text[i])) return std::nullopt;
    value = std::min(kSaturation, value * 10 + (text[i] - '0'));
  }
  return negative ? -value : value;
}

// How an error names the port. Without user info the "port" may be the
// password of a URL missing its "@host" (postgresql://alice:secret), and
// after a raw '@' in the password both host and port may be pieces of it;
// the text before the colon is then at worst a user name.
std::string NamePort(const RawUrl& raw) {
  if (raw.credentials_may_spill) return "the port after the host";
  if (raw.has_userinfo && IsQuotable(*raw.port)) return "port '" + *raw.port + "'";
  if (raw.host && IsQuotable(*raw.host)) return "the port after '" + *raw.host + ":'";
  return "the port after the host";
}

Result<std::optional<int>> ParsePort(const RawUrl& raw) {
  if (!raw.port) return std::optional<int>();
  const std::string named = NamePort(raw);
  const std::string fix =
      "write it as " + std::string(kPostgresqlForm) + " and " + std::string(kEncodePasswordHint);
  const std::optional<long long> value = ParsePythonInt(*raw.port);
  if (!value) return Invalid(named + " is not a number", fix);
  if (*value < 1 || *value > 65535) return Invalid(named + " is out of range 1-65535", fix);
  return std::optional<int>(static_cast<int>(*value));
}

Status SetDialect(const std::string& name, SqlalchemyUrl& url) {
  const std::size_t plus = name.find('+');
  url.dialect = AsciiLower(name.substr(0, plus));
  if (url.dialect == "postgresql" || url.dialect == "postgres") {
    url.type = DatabaseType::kPostgresql;
  } else if (url.dialect == "sqlite") {
    url.type = DatabaseType::kSqlite;
  } else {
    const std::string shown = IsQuotable(url.dialect) ? url.dialect : "?";
    return Fail("DATABASE_URL names the database '" + shown +
                "', which caloria_exporter does not watch: use a postgresql:// or sqlite:// URL");
  }
  if (plus == std::string::npos) return {};
  url.driver = name.substr(plus + 1);
  if (url.driver.empty() || url.driver.find('+') != std::string::npos) {
    // SQLAlchemy only fails on these when create_engine() looks the driver up.
    return Invalid("the driver name after '+' is malformed",
                   "write DIALECT+DRIVER://, e.g. postgresql+psycopg2:// or sqlite+pysqlite://");
  }
  return {};
}

// pysqlite's create_connect_args refuses these (by truthiness), so the app
// could not start with such a URL either. Checked before the port so that
// sqlite://user:pass gets the SQLite hint, not the PostgreSQL one.
Status CheckSqliteHasNoServer(const RawUrl& raw) {
  const bool has_server = !raw.username.value_or("").empty() ||
                          !raw.password.value_or("").empty() || raw.host || raw.port;
  if (!has_server) return {};
  if (!raw.has_userinfo && !raw.port) {
    // sqlite://data/app.db is the usual slip: "data" became the host.
    const std::string path = *raw.host + (raw.database ? "/" + *raw.database : "");
    if (IsQuotable(path)) {
      return Invalid("sqlite URLs take no host",
                     "write sqlite:///" + path +
                         " for a path relative to the working directory or sqlite:////" + path +
                         " for an absolute one");
    }
  }
  return Invalid("sqlite URLs take no user name, password, host or port",
                 "write it as " + std::string(kSqliteForms));
}

// Percent-encodes the bytes in `special` and all control bytes, leaving the
// rest readable: only what would be misread when the URL is parsed again.
std::string EncodeMinimally(std::string_view text, std::string_view special) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte < 0x20 || byte == 0x7f || special.find(c) != std::string_view::npos) {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0x0f];
    } else {
      encoded += c;
    }
  }
  return encoded;
}

// urllib.parse.quote_plus, as render_as_string applies it to the query.
std::string QuotePlus(std::string_view text) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsAsciiAlnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      encoded += c;
    } else if (c == ' ') {
      encoded += '+';
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0x0f];
    }
  }
  return encoded;
}

std::string RenderHost(const std::string& host) {
  // No host name holds an '@'; this one is the tail of a password with a raw
  // '@' (user:p@ss@host reads as password "p", host "ss@host"), so it is
  // hidden as the password would be.
  if (host.find('@') != std::string::npos) return "***";
  const std::string encoded = EncodeMinimally(host, "%/?");
  // As render_as_string: a colon can only come from an IPv6 literal.
  return host.find(':') == std::string::npos ? encoded : "[" + encoded + "]";
}

std::string RenderQuery(const std::multimap<std::string, std::string>& query) {
  std::string rendered;
  // multimap order is render_as_string's: keys sorted, values as written.
  for (const auto& [key, value] : query) {
    rendered += rendered.empty() ? "?" : "&";
    rendered += QuotePlus(key) + "=" + QuotePlus(value);
  }
  return rendered;
}

}  // namespace

std::string DatabaseTypeName(DatabaseType type) {
  return type == DatabaseType::kPostgresql ? "postgresql" : "sqlite";
}

bool SqlalchemyUrl::IsSqliteMemory() const {
  return type == DatabaseType::kSqlite && (database.empty() || database == ":memory:");
}

std::string SqlalchemyUrl::Redacted() const {
  std::string rendered = dialect + (driver.empty() ? "" : "+" + driver) + "://";
  if (!username.empty() || !password.empty()) {
    rendered += EncodeMinimally(username, "%:/@?");
    if (!password.empty()) rendered += ":***";
    rendered += "@";
  }
  rendered += RenderHost(host);
  if (port) rendered += ":" + std::to_string(*port);
  if (!database.empty()) rendered += "/" + EncodeMinimally(database, "%?");
  return rendered + RenderQuery(query);
}

Result<SqlalchemyUrl> ParseSqlalchemyUrl(const std::string& url) {
  if (Status shape = CheckShape(url); !shape) return Fail(shape.error());
  const Result<RawUrl> matched = MatchUrl(url);
  if (!matched) return Fail(matched.error());
  const RawUrl& raw = *matched;
  SqlalchemyUrl parsed;
  if (Status dialect = SetDialect(raw.name, parsed); !dialect) return Fail(dialect.error());
  if (parsed.type == DatabaseType::kSqlite) {
    if (Status server = CheckSqliteHasNoServer(raw); !server) return Fail(server.error());
  }
  const Result<std::optional<int>> port = ParsePort(raw);
  if (!port) return Fail(port.error());
  parsed.port = *port;
  parsed.username = PercentDecode(raw.username.value_or(""));
  parsed.password = Secret(PercentDecode(raw.password.value_or("")));
  parsed.host = PercentDecode(raw.host.value_or(""));
  parsed.database = PercentDecode(raw.database.value_or(""));
  if (raw.query) parsed.query = ParseQuery(*raw.query);
  return parsed;
}

}  // namespace caloria
