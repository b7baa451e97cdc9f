#include "config/dotenv.h"

#include <algorithm>
#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "core/bounded_file.h"

// A hand-written port of python-dotenv's parser (src/dotenv/parser.py) and
// interpolation (variables.py, resolve_variables in main.py). Each Parser
// method mirrors one of python-dotenv's regexes so that edge cases (what ends a
// quoted value, when "#" starts a comment, where error recovery resumes) match.
// The standard library's regex is avoided on purpose: its recursive matcher
// can overflow the stack on long values, and this code must not crash on any
// input.

namespace caloria {
namespace {

constexpr std::string_view kUtf8Bom = "\xEF\xBB\xBF";

enum class Quoting { kNone, kSingle, kDouble };

// One statement of the file: a binding, a comment, or a malformed entry.
struct Statement {
  int line = 0;                      // where the statement's text starts
  std::optional<std::string> key;    // absent for comments and trailing blanks
  std::optional<std::string> value;  // absent for a bare "KEY" without '='
  Quoting quoting = Quoting::kNone;
  std::string error;  // non-empty when the statement could not be parsed
};

// Python's str.isspace() for ASCII, which is what the "\s" in python-dotenv's
// regexes matches; it includes the \x1c-\x1f separators.
bool IsSpace(char c) {
  return c == ' ' || (c >= '\t' && c <= '\r') || (c >= '\x1c' && c <= '\x1f');
}

// "[^\S\r\n]": whitespace that does not end the line.
bool IsInlineSpace(char c) { return IsSpace(c) && c != '\n' && c != '\r'; }

// Python's open() reads files with universal newlines, so python-dotenv only
// ever sees "\n"; doing the same here keeps CR out of multi-line values.
// The BOM is dropped as python-dotenv's main branch does; 1.2.2 and older
// would glue it to the first key.
std::string Normalize(std::string_view text) {
  if (text.starts_with(kUtf8Bom)) text.remove_prefix(kUtf8Bom.size());
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\r') {
      out.push_back(text[i]);
      continue;
    }
    out.push_back('\n');
    if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
  }
  return out;
}

// Decodes the character after a backslash, or returns nullopt when the pair
// is not an escape python-dotenv knows: \\ and \' in single quotes, and also
// \" \a \b \f \n \r \t \v in double quotes.
std::optional<char> DecodeEscape(char next, Quoting quoting) {
  if (next == '\\' || next == '\'') return next;
  if (quoting != Quoting::kDouble) return std::nullopt;
  switch (next) {
    case '"':
      return '"';
    case 'a':
      return '\a';
    case 'b':
      return '\b';
    case 'f':
      return '\f';
    case 'n':
      return '\n';
    case 'r':
      return '\r';
    case 't':
      return '\t';
    case 'v':
      return '\v';
    default:
      return std::nullopt;
  }
}

// python-dotenv's decode_escapes(): unknown escapes keep their backslash, so
// "\$" or "\x41" stay literal.
std::string DecodeEscapes(std::string_view raw, Quoting quoting) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    std::optional<char> decoded;
    if (raw[i] == '\\' && i + 1 < raw.size()) decoded = DecodeEscape(raw[i + 1], quoting);
    if (decoded) {
      out.push_back(*decoded);
      ++i;
    } else {
      out.push_back(raw[i]);
    }
  }
  return out;
}

// python-dotenv's parse_unquoted_value(): the value runs to the end of the
// line; a "#" preceded by whitespace starts a comment, a bare "#" does not.
std::string TrimUnquotedValue(std::string_view part, bool preceded_by_space) {
  // "KEY=  # note" is an empty value (python-dotenv's main branch; 1.2.2 still
  // yields "# note"): the space before "#" was consumed with the "=".
  if (preceded_by_space && part.starts_with('#')) return "";
  for (std::size_t i = 1; i < part.size(); ++i) {
    if (part[i] == '#' && IsSpace(part[i - 1])) {
      part = part.substr(0, i);
      break;
    }
  }
  while (!part.empty() && IsSpace(part.back())) part.remove_suffix(1);
  return std::string(part);
}

// Returns the offset of the quote that closes a value whose content starts at
// `begin`, following python-dotenv's regex '((?:\\'|[^'])*)' with
// backtracking: the first quote not preceded by a backslash closes the value;
// failing that, the last (escaped) quote in the text does.
std::optional<std::size_t> FindClosingQuote(std::string_view text, std::size_t begin, char quote) {
  std::optional<std::size_t> last;
  for (std::size_t i = begin; i < text.size(); ++i) {
    if (text[i] != quote) continue;
    if (i == begin || text[i - 1] != '\\') return i;
    last = i;
  }
  return last;
}

// Splits the text into statements exactly where python-dotenv's Reader would.
class Parser {
 public:
  explicit Parser(std::string_view text) : text_(text) {}

  bool HasNext() const { return pos_ < text_.size(); }

  Statement Next() {
    const std::size_t start = pos_;
    SkipMultilineSpace();
    Statement statement;
    // python-dotenv reports the line where any preceding blank lines began;
    // the line the entry itself starts on is what a user needs to find it.
    statement.line = line_;
    if (HasNext() && !ParseBinding(statement)) Recover(statement);
    // Defensive: every path above consumes input, but a parser that stops
    // advancing would hang the exporter, so guarantee progress.
    if (pos_ == start && HasNext()) Advance(1);
    return statement;
  }

 private:
  bool ParseBinding(Statement& statement) {
    SkipExportPrefix();
    if (!ParseKey(statement)) return false;
    SkipInlineSpace();
    if (Peek() == '=' && !ParseValue(statement)) return false;
    return FinishLine(statement);
  }

  // On error python-dotenv drops the rest of the current line and resumes at
  // the next one; with a multi-line value that is the line the parse stopped.
  void Recover(Statement& statement) {
    statement.key.reset();
    statement.value.reset();
    while (HasNext() && Peek() != '\n') Advance(1);
    if (HasNext()) Advance(1);
  }

  // "export" is only a prefix when whitespace follows, so "export=1" sets a
  // variable named "export".
  void SkipExportPrefix() {
    constexpr std::string_view kExport = "export";
    const std::string_view rest = text_.substr(pos_);
    if (!rest.starts_with(kExport) || rest.size() == kExport.size() ||
        !IsInlineSpace(rest[kExport.size()])) {
      return;
    }
    Advance(kExport.size());
    SkipInlineSpace();
  }

  bool ParseKey(Statement& statement) {
    if (Peek() == '#') return true;  // a comment line: no key
    if (Peek() == '\'') return ParseSingleQuotedKey(statement);
    std::size_t end = pos_;
    while (end < text_.size() && text_[end] != '=' && text_[end] != '#' && !IsSpace(text_[end])) {
      ++end;
    }
    if (end == pos_) {
      return Fail(statement, Peek() == '='
                                 ? "missing variable name before '=': write NAME=value"
                                 : "missing variable name after 'export': write export NAME=value");
    }
    statement.key = std::string(text_.substr(pos_, end - pos_));
    Advance(end - pos_);
    return true;
  }

  bool ParseSingleQuotedKey(Statement& statement) {
    const std::size_t close = text_.find('\'', pos_ + 1);
    if (close == std::string_view::npos || close == pos_ + 1) {
      return Fail(statement, "unterminated or empty quoted variable name: close the ' quote");
    }
    statement.key = std::string(text_.substr(pos_ + 1, close - pos_ - 1));
    Advance(close + 1 - pos_);
    return true;
  }

  // Called with the cursor on '='.
  bool ParseValue(Statement& statement) {
    Advance(1);
    const bool preceded_by_space = SkipInlineSpace() > 0;
    if (!HasNext() || Peek() == '\n') {
      statement.value = "";
      return true;
    }
    if (Peek() == '\'') return ParseQuotedValue(statement, Quoting::kSingle);
    if (Peek() == '"') return ParseQuotedValue(statement, Quoting::kDouble);
    std::size_t end = text_.find('\n', pos_);
    if (end == std::string_view::npos) end = text_.size();
    statement.value = TrimUnquotedValue(text_.substr(pos_, end - pos_), preceded_by_space);
    Advance(end - pos_);
    return true;
  }

  bool ParseQuotedValue(Statement& statement, Quoting quoting) {
    const char quote = quoting == Quoting::kSingle ? '\'' : '"';
    const std::optional<std::size_t> close = FindClosingQuote(text_, pos_ + 1, quote);
    if (!close) {
      return Fail(statement, quoting == Quoting::kSingle
                                 ? "unterminated single-quoted value: add the closing '"
                                 : "unterminated double-quoted value: add the closing \"");
    }
    statement.value = DecodeEscapes(text_.substr(pos_ + 1, *close - pos_ - 1), quoting);
    statement.quoting = quoting;
    Advance(*close + 1 - pos_);
    return true;
  }

  // After the value only an optional "# comment" may follow on the line.
  bool FinishLine(Statement& statement) {
    SkipInlineSpace();
    if (Peek() == '#') {
      while (HasNext() && Peek() != '\n') Advance(1);
    }
    if (!HasNext()) return true;
    if (Peek() == '\n') {
      Advance(1);
      return true;
    }
    if (!statement.value) {
      return Fail(statement,
                  "expected '=' after the variable name: write NAME=value, and quote values that "
                  "contain spaces");
    }
    return Fail(statement,
                "unexpected text after the closing quote: remove it, or start a comment with #");
  }

  bool Fail(Statement& statement, std::string message) {
    statement.error = std::move(message);
    return false;
  }

  char Peek() const { return HasNext() ? text_[pos_] : '\0'; }

  void Advance(std::size_t count) {
    for (std::size_t i = 0; i < count && HasNext(); ++i, ++pos_) {
      if (text_[pos_] == '\n') ++line_;
    }
  }

  void SkipMultilineSpace() {
    while (HasNext() && IsSpace(Peek())) Advance(1);
  }

  std::size_t SkipInlineSpace() {
    const std::size_t start = pos_;
    while (HasNext() && IsInlineSpace(Peek())) Advance(1);
    return pos_ - start;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
  int line_ = 1;
};

// Names that cannot exist in a process environment; looking them up with
// getenv() could match a different variable (getenv("A=B") finds "A=B=...").
bool IsEnvironmentName(std::string_view name) {
  return !name.empty() && name.find('=') == std::string_view::npos &&
         name.find('\0') == std::string_view::npos;
}

// Finds the next of `chars` at or after a position that never decreases
// between calls. Reusing the previous answer keeps reference scanning linear:
// python-dotenv's regex rescans to the end of the value for every "${" that
// fails to match, which is quadratic on hostile input such as "${${${...".
class ForwardFinder {
 public:
  ForwardFinder(std::string_view text, std::string_view chars) : text_(text), chars_(chars) {}

  std::size_t From(std::size_t pos) {
    if (!searched_ || found_ < pos) {
      found_ = text_.find_first_of(chars_, pos);
      searched_ = true;
    }
    return found_;
  }

 private:
  std::string_view text_;
  std::string_view chars_;
  // A flag rather than std::optional: GCC 12 at -O2 warns (wrongly) that an
  // optional member may be used uninitialized, and -Werror makes that fatal.
  bool searched_ = false;
  std::size_t found_ = 0;  // npos once nothing is left
};

// One match of python-dotenv's \$\{(?P<name>[^}:]*)(?::-(?P<default>[^}]*))?\}
struct Reference {
  std::size_t begin = 0;
  std::size_t end = 0;  // one past the closing brace
  std::string_view name;
  std::string_view fallback;
};

// Yields the references in a value left to right, like re.finditer.
class ReferenceScanner {
 public:
  explicit ReferenceScanner(std::string_view text) : text_(text) {}

  std::optional<Reference> Next() {
    while (true) {
      const std::size_t open = text_.find("${", cursor_);
      if (open == std::string_view::npos) return std::nullopt;
      if (std::optional<Reference> reference = MatchAt(open)) {
        cursor_ = reference->end;
        return reference;
      }
      cursor_ = open + 1;
    }
  }

 private:
  std::optional<Reference> MatchAt(std::size_t open) {
    const std::size_t name_begin = open + 2;
    const std::size_t name_end = name_end_.From(name_begin);
    if (name_end == std::string_view::npos) return std::nullopt;
    Reference reference{open, name_end + 1, text_.substr(name_begin, name_end - name_begin), {}};
    if (text_[name_end] == '}') return reference;
    // A ':' only introduces a default as ":-"; "${A:x}" is left as text.
    if (text_.substr(name_end, 2) != ":-") return std::nullopt;
    const std::size_t close = brace_.From(name_end + 2);
    if (close == std::string_view::npos) return std::nullopt;
    reference.end = close + 1;
    reference.fallback = text_.substr(name_end + 2, close - name_end - 2);
    return reference;
  }

  std::string_view text_;
  std::size_t cursor_ = 0;
  ForwardFinder name_end_{text_, "}:"};
  ForwardFinder brace_{text_, "}"};
};

// Expands ${NAME} and ${NAME:-default} like python-dotenv with override=False:
// the process environment wins over values defined earlier in the file.
// Defaults are taken literally; python-dotenv does not expand them either.
class Interpolator {
 public:
  explicit Interpolator(const EnvLookup& process_env) : process_env_(process_env) {}

  // A bare "KEY" (nullopt) is remembered too: python-dotenv then expands
  // ${KEY} to "" and ignores the default, because the key exists as None.
  void Define(const std::string& name, std::optional<std::string> value) {
    defined_[name] = std::move(value);
  }

  // The expanded value, or nullopt as soon as it would pass `max_bytes`:
  // each reference copies a whole value, so without a bound a few lines of
  // references multiply into gigabytes.
  std::optional<std::string> Expand(std::string_view value, std::size_t max_bytes) const {
    std::string out;
    const auto append = [&out, max_bytes](std::string_view piece) {
      if (piece.size() > max_bytes - out.size()) return false;
      out.append(piece);
      return true;
    };
    std::size_t cursor = 0;
    ReferenceScanner scanner(value);
    while (std::optional<Reference> reference = scanner.Next()) {
      if (!append(value.substr(cursor, reference->begin - cursor)) ||
          !append(Resolve(std::string(reference->name), reference->fallback))) {
        return std::nullopt;
      }
      cursor = reference->end;
    }
    if (!append(value.substr(cursor))) return std::nullopt;
    return out;
  }

 private:
  std::string Resolve(const std::string& name, std::string_view fallback) const {
    if (process_env_ && IsEnvironmentName(name)) {
      if (std::optional<std::string> from_env = process_env_(name)) return *from_env;
    }
    if (auto it = defined_.find(name); it != defined_.end()) return it->second.value_or("");
    return std::string(fallback);
  }

  const EnvLookup& process_env_;
  std::map<std::string, std::optional<std::string>> defined_;
};

static_assert(kMaxDotenvValueBytes == 64 * 1024 && kMaxDotenvFileBytes == 1024 * 1024,
              "the warnings below name the bounds");
constexpr const char* kValueTooLong =
    "the value is longer than 64 KiB once its ${...} references are expanded (each reference "
    "copies the whole value it names), so it is skipped: shorten it";
constexpr const char* kValuesTooLong =
    "the file's values come to more than 1 MiB once their ${...} references are expanded, so "
    "this one is skipped: shorten the values or their references";
constexpr const char* kFileTooLong =
    "the file is larger than 1 MiB, so this line and the ones after it are not read: an env file "
    "holds a few variables; check that this is the right file";

// The text up to the last line end within kMaxDotenvFileBytes: a line cut
// in two would be read as a different, shorter value.
std::string_view ReadableText(std::string_view text) {
  if (text.size() <= kMaxDotenvFileBytes) return text;
  text = text.substr(0, kMaxDotenvFileBytes);
  std::size_t line_end = text.find_last_of('\n');
  if (line_end == std::string_view::npos) line_end = text.find_last_of('\r');  // old Mac files
  return line_end == std::string_view::npos ? std::string_view() : text.substr(0, line_end + 1);
}

// The number of the line after the last one of a normalized text that ends
// with a line end (or is empty).
int LineAfter(std::string_view normalized) {
  return 1 + static_cast<int>(std::count(normalized.begin(), normalized.end(), '\n'));
}

}  // namespace

DotenvFile ParseDotenv(const std::string& text, const EnvLookup& process_env) {
  const std::string_view within_bound = ReadableText(text);
  const std::string normalized = Normalize(within_bound);
  Parser parser(normalized);
  Interpolator interpolator(process_env);
  DotenvFile result;
  std::size_t values_budget = kMaxDotenvFileBytes;
  while (parser.HasNext()) {
    Statement statement = parser.Next();
    if (!statement.error.empty()) {
      result.warnings.push_back({statement.line, std::move(statement.error)});
      continue;
    }
    if (!statement.key) continue;
    const std::string& key = *statement.key;
    if (statement.value) {
      const std::size_t max_bytes = std::min(kMaxDotenvValueBytes, values_budget);
      // Single-quoted values stay literal, as in shells, so secrets
      // containing "${" survive (python-dotenv would expand them too).
      std::optional<std::string> value;
      if (statement.quoting != Quoting::kSingle) {
        value = interpolator.Expand(*statement.value, max_bytes);
      } else if (statement.value->size() <= max_bytes) {
        value = std::move(statement.value);
      }
      if (!value) {
        result.warnings.push_back(
            {statement.line, max_bytes < kMaxDotenvValueBytes ? kValuesTooLong : kValueTooLong});
        continue;
      }
      values_budget -= value->size();
      statement.value = std::move(value);
    }
    interpolator.Define(key, statement.value);
    // A later bare "KEY" replaces an earlier value with "not set".
    if (statement.value) {
      result.values[key] = *statement.value;
    } else {
      result.values.erase(key);
    }
  }
  if (within_bound.size() < text.size()) {
    result.warnings.push_back({LineAfter(normalized), kFileTooLong});
  }
  return result;
}

Result<std::string> ReadDotenvFile(const std::string& path) {
  Result<std::string> text = ReadBoundedFile(path, kMaxDotenvFileBytes);
  if (!text) {
    return Fail("the env file " + path + " " + text.error() +
                ": check that it exists, that it is the file itself (not a folder or a pipe) "
                "and that the exporter's user may read it");
  }
  return text;
}

}  // namespace caloria
