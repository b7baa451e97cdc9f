#pragma once

#include <functional>
#include <memory>
#include <string>

#include "collectors/collector.h"
#include "collectors/registry.h"
#include "collectors/shared_observations.h"
#include "config/sqlalchemy_url.h"

namespace caloria {

// The seed's long-term recommendations, measured: pool saturation
// (connections by state against max_connections), performance (database
// size, commits and rollbacks, deadlocks, cache hits, the longest
// transaction, the oldest idle-in-transaction session) and replicas (their
// lag seen from the primary, or this server's lag as a replica), from the
// pg_stat_* views. It goes on with the database collector's connection of
// the same poll (ConnectionHandOver), so a poll logs in once; it connects
// itself only when that connection was not given (the users query failed,
// --no-collector.database), after the database collector's has closed: at
// most one connection to the database at a time. Publishes nothing while
// the app's database is SQLite.
class PgStatsCollector : public Collector {
 public:
  // The app's database URL in force, asked at every run (a reload may change it).
  using UrlSource = std::function<SqlalchemyUrl()>;

  // `database_up` (may be null): what the database collector found in this
  // poll. When it could not connect, this collector does not try again.
  // `handover` (may be null): where the database collector leaves its
  // connection; constructing the collector says it is expected.
  PgStatsCollector(UrlSource source, std::shared_ptr<Observed<bool>> database_up,
                   std::shared_ptr<ConnectionHandOver> handover = nullptr);

  std::string Name() const override { return "pg_stats"; }
  CollectorResult Collect(const Deadline& deadline) override;

 private:
  UrlSource source_;
  std::shared_ptr<Observed<bool>> database_up_;
  std::shared_ptr<ConnectionHandOver> handover_;
};

// --[no-]collector.pg_stats.
CollectorSpec PgStatsCollectorSpec();

}  // namespace caloria
