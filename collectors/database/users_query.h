#pragma once

#include <string>

#include "core/result.h"

namespace caloria {

inline constexpr const char* kDefaultUsersQuery = "SELECT count(*) FROM users";

// Checks --database.users-query: a single read-only SELECT (or WITH ...
// SELECT), returned trimmed of blanks and trailing semicolons. The query runs
// with the exporter's credentials, and one statement is all the extended
// query protocol and sqlite3_prepare run anyway.
Result<std::string> ValidateUsersQuery(const std::string& query);

}  // namespace caloria
