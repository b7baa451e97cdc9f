#pragma once

#include <chrono>
#include <string>

namespace caloria {

using SystemTime = std::chrono::system_clock::time_point;

// "2026-11-25T15:31:51.123Z": log timestamps, as Prometheus' own logs.
std::string FormatRfc3339(SystemTime time);

// "2026-11-25T15:31:51.123456+00:00": the health pages' timestamp, the shape
// Python's datetime.isoformat() gives the seed's /health/database, in UTC.
std::string FormatIsoMicros(SystemTime time);

// Seconds since the Unix epoch, the unit of *_timestamp_seconds metrics.
double UnixSeconds(SystemTime time);

// The inverse: a time read as Unix seconds (a file's mtime, a state file's
// field) as a SystemTime, for FormatIsoMicros.
SystemTime FromUnixSeconds(double seconds);

}  // namespace caloria
