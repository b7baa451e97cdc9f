#include "collectors/app_probe/app_probe_collector.h"
#include "collectors/app_process/app_process_collector.h"
#include "collectors/backup/backup_collector.h"
#include "collectors/config_collector.h"
#include "collectors/consistency_collector.h"
#include "collectors/database/database_collector.h"
#include "collectors/fallback_sqlite_collector.h"
#include "collectors/postgres_stats/pg_stats_collector.h"
#include "collectors/process_collector.h"
#include "collectors/registry.h"
#include "collectors/restore/restore_test_collector.h"

namespace caloria {

// Every collector, one line each. An explicit list rather than self-
// registering static objects: a static library drops object files nothing
// references, and a registration lost that way would fail silently.
// The order here is the order of --help; the run order also honours each
// spec's runs_after.
const CollectorRegistry& BuiltinCollectors() {
  static const CollectorRegistry registry({
      ConfigCollectorSpec(),
      DatabaseCollectorSpec(),
      PgStatsCollectorSpec(),
      BackupCollectorSpec(),
      RestoreTestCollectorSpec(),
      ProcessCollectorSpec(),
      AppProbeCollectorSpec(),
      AppProcessCollectorSpec(),
      FallbackSqliteCollectorSpec(),
      ConsistencyCollectorSpec(),
  });
  return registry;
}

}  // namespace caloria
