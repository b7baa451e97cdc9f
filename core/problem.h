#pragma once

#include <string>

namespace caloria {

// Ordered from best to worst so that the overall status is the maximum.
enum class HealthStatus { kHealthy = 0, kDegraded = 1, kUnhealthy = 2 };

// "healthy", "degraded" or "unhealthy": the status strings of the health pages.
const char* HealthStatusName(HealthStatus status);

// A configuration problem, found at startup or by a collector at run time.
// `check` is the value of the check label of caloria_config_problem; the
// message names the problem and its fix, and never holds a secret.
struct Problem {
  std::string check;
  std::string message;
  HealthStatus severity = HealthStatus::kDegraded;
};

}  // namespace caloria
