#include "collectors/database/users_query.h"

#include <algorithm>
#include <cctype>

namespace caloria {
namespace {

std::string Trim(const std::string& text) {
  const auto begin = text.find_first_not_of(" \t\r\n");
  if (begin == std::string::npos) return "";
  const auto end = text.find_last_not_of(" \t\r\n");
  return text.substr(begin, end - begin + 1);
}

std::string Lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

}  // namespace

Result<std::string> ValidateUsersQuery(const std::string& query) {
  std::string trimmed = Trim(query);
  while (!trimmed.empty() && trimmed.back() == ';') {
    trimmed = Trim(trimmed.substr(0, trimmed.size() - 1));
  }
  const std::string lowered = Lower(trimmed);
  if (trimmed.empty()) {
    return Fail(
        "--database.users-query is empty: give a SELECT returning one number, e.g. "
        "SELECT count(*) FROM users");
  }
  if (trimmed.find(';') != std::string::npos) {
    return Fail(
        "--database.users-query holds more than one statement: give a single "
        "SELECT returning one number");
  }
  if (lowered.rfind("select", 0) != 0 && lowered.rfind("with", 0) != 0) {
    return Fail(
        "--database.users-query must be a read-only SELECT: write e.g. SELECT "
        "count(*) FROM users");
  }
  return trimmed;
}

}  // namespace caloria
