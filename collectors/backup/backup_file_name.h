#pragma once

#include <ctime>
#include <optional>
#include <string>

namespace caloria {

// The time a backup's file name carries, e.g. caloria_20250724_203033.sql.gz
// or caloria_backup_20250724_202435.db, as seconds since the epoch. The
// backup script names files after `date +%Y%m%d_%H%M%S`, the host's local
// time, so the name is read in the exporter's local time zone (TZ).
// Accepted: YYYYMMDD_HHMMSS, YYYYMMDDTHHMMSS, YYYYMMDDHHMMSS,
// YYYY-MM-DD_HH-MM-SS, YYYY-MM-DDTHH:MM:SS, and a date alone (YYYYMMDD or
// YYYY-MM-DD, read as midnight). The last timestamp in the name wins;
// impossible dates (month 13, Feb 30) are not timestamps.
std::optional<std::time_t> TimestampFromFileName(const std::string& name);

}  // namespace caloria
