#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "collectors/database/postgres_connection.h"
#include "core/result.h"

namespace caloria {

// What the server's pg_stat_* views say about the seed's long-term worries:
// pool saturation, performance, replicas. Read with a few cheap queries that
// a role with only pg_monitor may run (docs/postgres.md).

// One replica as its primary sees it (pg_stat_replication).
struct ReplicaView {
  std::string application_name;
  std::string client_addr;
  std::string state;                  // streaming, catchup, startup, backup, stopping
  std::optional<double> lag_bytes;    // WAL not yet replayed there
  std::optional<double> lag_seconds;  // replay_lag; 0 when caught up and idle
};

// This server as a replica (pg_is_in_recovery()).
struct RecoveryView {
  std::optional<double> lag_bytes;    // received but not yet replayed
  std::optional<double> lag_seconds;  // since the last replayed transaction; 0 when caught up
  bool replay_paused = false;
  // pg_stat_wal_receiver says streaming; nullopt when a role without
  // pg_read_all_stats sees its row but not its status.
  std::optional<bool> receiver_streaming;
};

struct PgStats {
  double max_connections = 0;
  double superuser_reserved_connections = 0;
  bool in_recovery = false;
  double database_size_bytes = 0;
  double transactions_committed = 0;
  double transactions_rolled_back = 0;
  double deadlocks = 0;
  double blocks_hit = 0;
  double blocks_read = 0;
  // Client connections of the whole server by state, named as in the label
  // (active, idle, idle_in_transaction, ...).
  std::map<std::string, double> connections;
  double longest_transaction_seconds = 0;
  double oldest_idle_in_transaction_seconds = 0;
  std::vector<ReplicaView> replicas;     // on a primary
  std::optional<RecoveryView> recovery;  // on a replica
};

// The queries, each one statement, in the order ReadPgStats runs them.
extern const char* const kServerQuery;
extern const char* const kActivityQuery;
extern const char* const kReplicasQuery;
extern const char* const kRecoveryQuery;

// pg_stat_activity's state as a label value: "idle in transaction (aborted)"
// becomes idle_in_transaction_aborted, NULL (a backend the role may not see)
// "unknown".
std::string ConnectionStateLabel(const std::string& state);

// Each parser reads one query's rows into `stats`; an Error names the column
// that is not what the query selects (a server that answers oddly).
Status ParseServerRows(const QueryResult& rows, PgStats& stats);
Status ParseActivityRows(const QueryResult& rows, PgStats& stats);
Status ParseReplicaRows(const QueryResult& rows, PgStats& stats);
Status ParseRecoveryRows(const QueryResult& rows, PgStats& stats);

// Runs the queries on `connection` under `deadline`: the server and activity
// queries always, then the replicas query on a primary or the recovery query
// on a replica.
Result<PgStats> ReadPgStats(PostgresConnection& connection, const Deadline& deadline);

}  // namespace caloria
