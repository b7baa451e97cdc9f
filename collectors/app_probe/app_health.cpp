#include "collectors/app_probe/app_health.h"

#include <cmath>
#include <cstddef>
#include <nlohmann/json.hpp>

namespace caloria {
namespace {

using nlohmann::json;

constexpr std::size_t kMaxShown = 64;
constexpr std::size_t kMaxLabel = 32;
constexpr const char* kFix = "point --app.health-url at the app's /health/database";

// Printable ASCII only, and short: safe in a page, a log line and a message.
std::string Shown(std::string_view text) {
  std::string shown;
  for (const char c : text.substr(0, kMaxShown)) {
    shown += (c >= 0x20 && c <= 0x7e) ? c : '?';
  }
  if (text.size() > kMaxShown) shown += "...";
  return shown;
}

std::string LowerCase(std::string text) {
  for (char& c : text) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return text;
}

std::string Label(const std::string& shown) {
  std::string label = LowerCase(shown.substr(0, kMaxLabel));
  for (char& c : label) {
    const bool kept = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '.' ||
                      c == '+' || c == '-';
    if (!kept) c = '_';
  }
  return label;
}

// A JSON value for a message: its type, or its text when it is short.
std::string Describe(const json& value) {
  const std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  return text.size() <= 20 ? Shown(text) : std::string("a long ") + value.type_name();
}

const char* Kind(const json& value) {
  if (value.is_array()) return "a JSON array";
  if (value.is_string()) return "a JSON string";
  if (value.is_number()) return "a JSON number";
  if (value.is_boolean()) return "a JSON boolean";
  return "JSON null";
}

void ReadDatabase(const json& page, AppHealth& health) {
  const auto it = page.find("database");
  if (it == page.end()) {
    health.problems.emplace_back("the app's health page has no database field");
    return;
  }
  if (!it->is_string() || it->get_ref<const std::string&>().empty()) {
    health.problems.push_back("the app's health page gives database as " + Describe(*it) +
                              ", not a type name");
    return;
  }
  const std::string& raw = it->get_ref<const std::string&>();
  health.database = Shown(raw);
  const std::string lower = LowerCase(raw);
  if (lower == "postgresql") {
    health.database_type = DatabaseType::kPostgresql;
  } else if (lower == "sqlite") {
    health.database_type = DatabaseType::kSqlite;
  } else {
    health.problems.push_back("the app's health page names an unknown database type '" +
                              *health.database + "', neither POSTGRESQL nor SQLITE");
  }
  health.type_label =
      health.database_type ? DatabaseTypeName(*health.database_type) : Label(*health.database);
}

void ReadStatus(const json& page, AppHealth& health) {
  const auto it = page.find("status");
  if (it == page.end()) {
    health.problems.emplace_back("the app's health page has no status field");
  } else if (!it->is_string()) {
    health.problems.push_back("the app's health page gives status as " + Describe(*it) +
                              ", not text");
  } else {
    health.status = LowerCase(Shown(it->get_ref<const std::string&>()));
  }
}

void ReadUserCount(const json& page, AppHealth& health) {
  const auto it = page.find("user_count");
  if (it == page.end()) {
    health.problems.emplace_back("the app's health page has no user_count field");
    return;
  }
  // Booleans are not numbers to nlohmann::json; 3.0 is how some apps print 3.
  const double count = it->is_number() ? it->get<double>() : NAN;
  if (!std::isfinite(count) || count < 0 || std::floor(count) != count) {
    health.problems.push_back("the app's health page gives user_count as " + Describe(*it) +
                              ", not a count");
    return;
  }
  health.user_count = count;
}

}  // namespace

Result<AppHealth> ParseAppHealth(std::string_view body) {
  if (body.empty()) return Fail(std::string("not JSON: the app's health page is empty: ") + kFix);
  // No exceptions: a body that is not JSON is a value, not a throw.
  const json page = json::parse(body.begin(), body.end(), nullptr, false);
  if (page.is_discarded()) {
    return Fail("not JSON: the app's health page (" + std::to_string(body.size()) +
                " bytes) is not JSON: " + kFix);
  }
  if (!page.is_object()) {
    return Fail(std::string("not a JSON object: the app's health page is ") + Kind(page) +
                ", not an object like {\"database\": \"POSTGRESQL\", ...}: " + kFix);
  }
  AppHealth health;
  ReadDatabase(page, health);
  ReadStatus(page, health);
  ReadUserCount(page, health);
  if (const auto it = page.find("timestamp"); it != page.end() && it->is_string()) {
    health.timestamp = Shown(it->get_ref<const std::string&>());
  }
  return health;
}

}  // namespace caloria
