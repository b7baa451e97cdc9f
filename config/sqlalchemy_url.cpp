#include "config/sqlalchemy_url.h"

#include <algorithm>
#include <cstddef>
#include <string_view>
#include <utility>

namespace caloria {
namespace {

constexpr std::string_view kPostgresqlForm = "postgresql://USER:PASSWORD@HOST:PORT/DBNAME";
constexpr std::string_view kAnyForm =
    "postgresql://USER:PASSWORD@HOST:PORT/DBNAME or sqlite:///PATH.db";
constexpr std::string_view kSqliteForms =
    "sqlite:///RELATIVE/PATH.db, sqlite:////ABSOLUTE/PATH.db or sqlite:// (in memory)";
constexpr std::string_view kEncodePasswordHint =
    "percent-encode @ : / ? % inside the user name and password (@ is %40)";

// No real database URL comes anywhere near this; the bound keeps what an
// error message or a scrubbed library message has to deal with small.
constexpr std::size_t kMaxUrlLength = 4096;

// Longest text from the URL that an error message may quote.
constexpr std::size_t kMaxQuotedLength = 40;

// The groups of SQLAlchemy's URL pattern before decoding; nullopt where
// SQLAlchemy would see None. The offsets say where each group starts in the
// URL, which decides what a stray '@' hides.
struct RawUrl {
  std::string name;
  std::optional<std::string> username;
  std::optional<std::string> password;
  std::optional<std::string> host;
  std::optional<std::string> port;
  std::optional<std::string> database;
  std::optional<std::string> query;
  std::size_t userinfo_begin = 0;  // just after "://"
  std::size_t username_end = 0;    // where the user name ends (a ':' or the '@')
  std::size_t host_begin = 0;      // at the '[' of an IPv6 literal
  std::size_t port_begin = 0;
  std::size_t database_begin = 0;
  std::size_t query_begin = 0;
  bool has_userinfo = false;
  // True when an '@' follows the user info: the password most likely holds a
  // raw '@', so host and port are pieces of it and must not be quoted.
  bool credentials_may_spill = false;
  std::size_t last_at = 0;  // the URL's last '@', when credentials_may_spill
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

bool IsNameChar(char c) { return IsAsciiAlnum(c) || c == '_' || c == '+'; }

// The end of the run of characters from `from` that satisfy `in_run`.
template <typename InRun>
std::size_t RunEnd(std::string_view text, std::size_t from, InRun in_run) {
  while (from < text.size() && in_run(text[from])) ++from;
  return from;
}

// SQLAlchemy 2.x engine/url.py _parse_url, read by hand in one pass. Its
// pattern, matched with re.match (anchored at the start only), is
//   (?P<name>[\w\+]+)://
//   (?:(?P<username>[^:/]*)(?::(?P<password>[^@]*))?@)?
//   (?:(?:\[(?P<ipv6host>[^/\?]+)\]|(?P<ipv4host>[^/:\?]+))?(?::(?P<port>[^/\?]*))?)?
//   (?:/(?P<database>[^\?]*))?
//   (?:\?(?P<query>.*))?
// Everything after the user info is optional and nothing anchors the end, so
// once the user info is settled every later group simply takes the longest
// run it can, which is what a backtracking engine ends up with too. \w is
// read as ASCII: a non-ASCII dialect name is rejected either way.
Result<RawUrl> ScanUrl(std::string_view url) {
  RawUrl raw;
  const auto text = [url](std::size_t begin, std::size_t end) {
    return std::string(url.substr(begin, end - begin));
  };
  const std::size_t name_end = RunEnd(url, 0, IsNameChar);
  if (name_end == 0 || url.substr(name_end, 3) != "://") {
    return Invalid("it does not start with a dialect name followed by ://",
                   "write it as " + std::string(kAnyForm));
  }
  raw.name = text(0, name_end);
  std::size_t pos = name_end + 3;
  raw.userinfo_begin = pos;

  // The user name's run first; with a ':' after it, the password runs to the
  // first '@' anywhere after. Without one (or without an '@' after the
  // ':'), the engine backs off into the user name's run to its last '@'.
  const std::size_t user_end = RunEnd(url, pos, [](char c) { return c != ':' && c != '/'; });
  std::size_t userinfo_at = std::string_view::npos;
  if (user_end < url.size() && url[user_end] == ':') userinfo_at = url.find('@', user_end + 1);
  if (userinfo_at != std::string_view::npos) {
    raw.username = text(pos, user_end);
    raw.password = text(user_end + 1, userinfo_at);
    raw.username_end = user_end;
  } else if (const std::size_t at = url.substr(pos, user_end - pos).rfind('@');
             at != std::string_view::npos) {
    userinfo_at = pos + at;
    raw.username = text(pos, userinfo_at);
    raw.username_end = userinfo_at;
  }
  if (userinfo_at != std::string_view::npos) {
    raw.has_userinfo = true;
    pos = userinfo_at + 1;
    raw.last_at = url.rfind('@');
    raw.credentials_may_spill = raw.last_at > userinfo_at;
  }

  raw.host_begin = pos;
  // An IPv6 literal runs to the last ']' before any '/' or '?', and holds at
  // least one character; otherwise the '[' is read as part of a host name.
  if (pos < url.size() && url[pos] == '[') {
    const std::size_t run_end = RunEnd(url, pos + 1, [](char c) { return c != '/' && c != '?'; });
    const std::size_t close = url.substr(0, run_end).rfind(']');
    if (close != std::string_view::npos && close > pos + 1) {
      raw.host = text(pos + 1, close);
      pos = close + 1;
    }
  }
  if (!raw.host) {
    const std::size_t end =
        RunEnd(url, pos, [](char c) { return c != '/' && c != ':' && c != '?'; });
    if (end > pos) raw.host = text(pos, end);
    pos = end;
  }
  if (pos < url.size() && url[pos] == ':') {
    raw.port_begin = pos;
    const std::size_t end = RunEnd(url, pos + 1, [](char c) { return c != '/' && c != '?'; });
    raw.port = text(pos + 1, end);
    pos = end;
  }
  if (pos < url.size() && url[pos] == '/') {
    raw.database_begin = pos;
    const std::size_t end = RunEnd(url, pos + 1, [](char c) { return c != '?'; });
    raw.database = text(pos + 1, end);
    pos = end;
  }
  if (pos < url.size() && url[pos] == '?') {
    raw.query_begin = pos;
    // Python's "." stops at a newline only; whatever follows it is ignored.
    const std::size_t end = RunEnd(url, pos + 1, [](char c) { return c != '\n'; });
    raw.query = text(pos + 1, end);
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

// urllib.parse.quote with safe="" (`plus_for_space` false), or quote_plus
// (true) as render_as_string applies it to the query.
std::string PercentEncode(std::string_view text, bool plus_for_space) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  std::string encoded;
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (IsAsciiAlnum(c) || c == '_' || c == '.' || c == '-' || c == '~') {
      encoded += c;
    } else if (c == ' ' && plus_for_space) {
      encoded += '+';
    } else {
      encoded += '%';
      encoded += kHex[byte >> 4];
      encoded += kHex[byte & 0x0f];
    }
  }
  return encoded;
}

std::string QuotePlus(std::string_view text) { return PercentEncode(text, true); }

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
    rendered += QuotePlus(key) + "=" + (IsSecretQueryOption(key) ? "***" : QuotePlus(value));
  }
  return rendered;
}

// A field of the query with an '@' outside the value of a key=value pair:
// parse_qsl drops a field without '=', so nobody writes one on purpose, but
// it is what the rest of a password with "@...?" in it turns into.
bool QueryHasStrayAt(std::string_view query) {
  std::size_t start = 0;
  while (start <= query.size()) {
    std::size_t end = query.find('&', start);
    if (end == std::string_view::npos) end = query.size();
    const std::string_view field = query.substr(start, end - start);
    const std::size_t at = field.find('@');
    const std::size_t equals = field.find('=');
    if (at != std::string_view::npos &&
        (equals == std::string_view::npos || equals == 0 || at < equals)) {
      return true;
    }
    start = end + 1;
  }
  return false;
}

StrayAt FindStrayAt(const RawUrl& raw) {
  if (!raw.credentials_may_spill) return StrayAt::kNone;
  if (raw.host && raw.host->find('@') != std::string::npos) return StrayAt::kHost;
  if (raw.database && raw.database->find('@') != std::string::npos) return StrayAt::kDatabase;
  if (raw.query && QueryHasStrayAt(*raw.query)) return StrayAt::kQuery;
  return StrayAt::kNone;
}

// With a stray '@', what lies before the URL's last '@' (or straddles it)
// may be a piece of the password. A user name without '@' is the user's
// own: SQLAlchemy ended it at the ':' before the password.
SqlalchemyUrl::Hidden HiddenParts(const RawUrl& raw, StrayAt stray_at) {
  SqlalchemyUrl::Hidden hidden;
  if (stray_at == StrayAt::kNone) return hidden;
  hidden.username = raw.username && raw.username->find('@') != std::string::npos;
  hidden.host = raw.host && raw.host_begin < raw.last_at;
  hidden.port = raw.port && raw.port_begin < raw.last_at;
  hidden.database = raw.database && raw.database_begin < raw.last_at;
  hidden.query = raw.query && raw.query_begin < raw.last_at;
  return hidden;
}

// A secret as written in the URL, percent-decoded, and percent-encoded
// again: libraries and people quote it in any of the three.
void AddSecretForms(SecretFragments& fragments, std::string_view as_written) {
  fragments.Add(as_written);
  const std::string decoded = PercentDecode(as_written);
  fragments.Add(decoded);
  fragments.Add(PercentEncode(decoded, false));
}

SecretFragments SecretFragmentsOf(std::string_view url, const RawUrl& raw, StrayAt stray_at,
                                  const SqlalchemyUrl::Hidden& hidden) {
  SecretFragments fragments;
  if (raw.password) AddSecretForms(fragments, *raw.password);
  if (stray_at != StrayAt::kNone) {
    const std::size_t begin = hidden.username ? raw.userinfo_begin : raw.username_end + 1;
    if (begin < raw.last_at) AddSecretForms(fragments, url.substr(begin, raw.last_at - begin));
  }
  if (raw.query) {
    for (const auto& [key, value] : ParseQuery(*raw.query)) {
      if (!IsSecretQueryOption(key)) continue;
      AddSecretForms(fragments, value);
      fragments.Add(QuotePlus(value));
    }
  }
  return fragments;
}

}  // namespace

std::string DatabaseTypeName(DatabaseType type) {
  return type == DatabaseType::kPostgresql ? "postgresql" : "sqlite";
}

bool SqlalchemyUrl::IsSqliteMemory() const {
  return type == DatabaseType::kSqlite && (database.empty() || database == ":memory:");
}

bool IsSecretQueryOption(std::string_view name) {
  const std::string lower = AsciiLower(name);
  return lower.find("pass") != std::string::npos || lower.find("secret") != std::string::npos ||
         lower.find("key") != std::string::npos;
}

std::string SqlalchemyUrl::Redacted() const {
  std::string rendered = dialect + (driver.empty() ? "" : "+" + driver) + "://";
  if (hidden.username) {
    rendered += "***@";
  } else if (!username.empty() || !password.empty()) {
    rendered += EncodeMinimally(username, "%:/@?");
    if (!password.empty()) rendered += ":***";
    rendered += "@";
  }
  rendered += hidden.host ? "***" : RenderHost(host);
  if (port) rendered += hidden.port ? ":***" : ":" + std::to_string(*port);
  if (!database.empty()) {
    rendered += "/" + (hidden.database ? "***" : EncodeMinimally(database, "%?"));
  }
  if (hidden.query) return rendered + (query.empty() ? "" : "?***");
  return rendered + RenderQuery(query);
}

std::string SqlalchemyUrl::Scrub(const std::string& text) const {
  return secret_fragments.ScrubFrom(text);
}

Result<SqlalchemyUrl> ParseSqlalchemyUrl(const std::string& url) {
  if (Status shape = CheckShape(url); !shape) return Fail(shape.error());
  const Result<RawUrl> scanned = ScanUrl(url);
  if (!scanned) return Fail(scanned.error());
  const RawUrl& raw = *scanned;
  SqlalchemyUrl parsed;
  parsed.stray_at = FindStrayAt(raw);
  parsed.hidden = HiddenParts(raw, parsed.stray_at);
  parsed.secret_fragments = SecretFragmentsOf(url, raw, parsed.stray_at, parsed.hidden);
  // The messages below quote nothing secret by construction; scrubbing them
  // too keeps it so when one of them changes.
  const auto failed = [&parsed](const std::string& message) { return Fail(parsed.Scrub(message)); };
  if (Status dialect = SetDialect(raw.name, parsed); !dialect) return failed(dialect.error());
  if (parsed.type == DatabaseType::kSqlite) {
    if (Status server = CheckSqliteHasNoServer(raw); !server) return failed(server.error());
  }
  const Result<std::optional<int>> port = ParsePort(raw);
  if (!port) return failed(port.error());
  parsed.port = *port;
  parsed.username = PercentDecode(raw.username.value_or(""));
  parsed.password = Secret(PercentDecode(raw.password.value_or("")));
  parsed.host = PercentDecode(raw.host.value_or(""));
  parsed.database = PercentDecode(raw.database.value_or(""));
  if (raw.query) parsed.query = ParseQuery(*raw.query);
  return parsed;
}

}  // namespace caloria
