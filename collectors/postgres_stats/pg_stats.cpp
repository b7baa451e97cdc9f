#include "collectors/postgres_stats/pg_stats.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

namespace caloria {
namespace {

// A replica per row: a primary with more is not one this exporter watches.
constexpr int kMaxReplicas = 256;
// Rows of the activity query: one per state (about 7).
constexpr int kMaxStates = 64;

std::optional<double> Number(const std::optional<std::string>& text) {
  if (!text || text->empty()) return std::nullopt;
  char* end = nullptr;
  const double value = std::strtod(text->c_str(), &end);
  if (end != text->c_str() + text->size() || !std::isfinite(value)) return std::nullopt;
  return value;
}

std::optional<bool> Bool(const std::optional<std::string>& text) {
  if (text && *text == "t") return true;
  if (text && *text == "f") return false;
  return std::nullopt;
}

// Reads the columns of one row, naming the first one that is not as expected.
class RowReader {
 public:
  RowReader(const QueryRow& row, const char* query) : row_(row), query_(query) {}

  double Required(std::size_t column, const char* name) {
    const std::optional<double> value = Optional(column, name);
    if (!value && !problem_) problem_ = Bad(name, "is not a number");
    return value.value_or(0);
  }
  std::optional<double> Optional(std::size_t column, const char* name) {
    if (column >= row_.size()) {
      if (!problem_) problem_ = Bad(name, "is missing");
      return std::nullopt;
    }
    if (!row_[column]) return std::nullopt;
    const std::optional<double> value = Number(row_[column]);
    if (!value && !problem_) problem_ = Bad(name, "is not a number");
    return value;
  }
  bool Flag(std::size_t column, const char* name) {
    const std::optional<bool> value =
        column < row_.size() ? Bool(row_[column]) : std::optional<bool>();
    if (!value && !problem_) problem_ = Bad(name, "is not a boolean");
    return value.value_or(false);
  }
  std::string Text(std::size_t column) const {
    return column < row_.size() && row_[column] ? *row_[column] : "";
  }
  Status Done() const { return problem_ ? Status(Fail(*problem_)) : Status(); }

 private:
  std::string Bad(const char* name, const char* what) const {
    return std::string("the ") + query_ + " query's " + name + " " + what;
  }
  const QueryRow& row_;
  const char* query_;
  std::optional<std::string> problem_;
};

Status OneRow(const QueryResult& rows, const char* query) {
  if (rows.rows.size() == 1) return {};
  return Fail(std::string("the ") + query + " query returned " + std::to_string(rows.rows.size()) +
              " rows, not one (is the exporter connected to a database that exists?)");
}

}  // namespace

// Settings and this database's counters. pg_stat_database's counters are
// cumulative since the last stats reset: Prometheus takes the rates.
const char* const kServerQuery =
    "SELECT current_setting('max_connections')::bigint,"
    " current_setting('superuser_reserved_connections')::bigint,"
    " pg_is_in_recovery(), pg_database_size(current_database()),"
    " d.xact_commit, d.xact_rollback, d.deadlocks, d.blks_hit, d.blks_read"
    " FROM pg_stat_database d WHERE d.datname = current_database()";

// Client connections of the whole server (max_connections is the server's),
// the exporter's own excepted, by state; the oldest open transaction and the
// longest idle in transaction in each state. Without pg_read_all_stats (which
// pg_monitor grants) another role's session shows a NULL backend_type and
// state: counted, as state "unknown".
const char* const kActivityQuery =
    "SELECT coalesce(state, ''), count(*),"
    " coalesce(max(extract(epoch FROM clock_timestamp() - xact_start)), 0),"
    " coalesce(max(extract(epoch FROM clock_timestamp() - state_change))"
    "   FILTER (WHERE state LIKE 'idle in transaction%'), 0)"
    " FROM pg_stat_activity"
    " WHERE coalesce(backend_type, 'client backend') = 'client backend'"
    " AND pid <> pg_backend_pid()"
    " GROUP BY 1";

// On a primary: each replica's replay position against ours.
const char* const kReplicasQuery =
    "SELECT coalesce(application_name, ''), coalesce(host(client_addr), ''),"
    " coalesce(state, ''), pg_wal_lsn_diff(pg_current_wal_lsn(), replay_lsn)::float8,"
    " extract(epoch FROM replay_lag)"
    " FROM pg_stat_replication";

// On a replica: what it received but has not replayed, and for how long.
const char* const kRecoveryQuery =
    "SELECT pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8,"
    " CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0"
    "  ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END,"
    " pg_is_wal_replay_paused(),"
    " (SELECT CASE WHEN count(*) = 0 THEN 'none' ELSE max(coalesce(status, '')) END"
    "  FROM pg_stat_wal_receiver)";

std::string ConnectionStateLabel(const std::string& state) {
  if (state.empty()) return "unknown";
  std::string label;
  for (const char c : state) {
    if (c == ' ') {
      label += '_';
    } else if (c != '(' && c != ')') {
      label += c;
    }
  }
  return label;
}

Status ParseServerRows(const QueryResult& rows, PgStats& stats) {
  if (Status one = OneRow(rows, "server"); !one) return one;
  RowReader row(rows.rows[0], "server");
  stats.max_connections = row.Required(0, "max_connections");
  stats.superuser_reserved_connections = row.Required(1, "superuser_reserved_connections");
  stats.in_recovery = row.Flag(2, "pg_is_in_recovery");
  stats.database_size_bytes = row.Required(3, "database size");
  stats.transactions_committed = row.Required(4, "xact_commit");
  stats.transactions_rolled_back = row.Required(5, "xact_rollback");
  stats.deadlocks = row.Required(6, "deadlocks");
  stats.blocks_hit = row.Required(7, "blks_hit");
  stats.blocks_read = row.Required(8, "blks_read");
  return row.Done();
}

Status ParseActivityRows(const QueryResult& rows, PgStats& stats) {
  // The states every server has, present at 0 so that sums and ratios over
  // them never lose a series.
  for (const char* state :
       {"active", "idle", "idle_in_transaction", "idle_in_transaction_aborted"}) {
    stats.connections[state] = 0;
  }
  for (const QueryRow& values : rows.rows) {
    RowReader row(values, "activity");
    const std::string state = ConnectionStateLabel(row.Text(0));
    stats.connections[state] += row.Required(1, "count");
    stats.longest_transaction_seconds =
        std::max(stats.longest_transaction_seconds, row.Required(2, "transaction age"));
    stats.oldest_idle_in_transaction_seconds =
        std::max(stats.oldest_idle_in_transaction_seconds, row.Required(3, "idle age"));
    if (Status done = row.Done(); !done) return done;
  }
  return {};
}

Status ParseReplicaRows(const QueryResult& rows, PgStats& stats) {
  for (const QueryRow& values : rows.rows) {
    RowReader row(values, "replicas");
    ReplicaView replica;
    replica.application_name = row.Text(0);
    replica.client_addr = row.Text(1);
    replica.state = row.Text(2);
    replica.lag_bytes = row.Optional(3, "lag bytes");
    replica.lag_seconds = row.Optional(4, "replay_lag");
    // replay_lag turns NULL once a replica has caught up and nothing is
    // written: no lag, not an unknown one.
    if (!replica.lag_seconds && replica.lag_bytes && *replica.lag_bytes <= 0) {
      replica.lag_seconds = 0.0;
    }
    if (Status done = row.Done(); !done) return done;
    stats.replicas.push_back(std::move(replica));
  }
  return {};
}

Status ParseRecoveryRows(const QueryResult& rows, PgStats& stats) {
  if (Status one = OneRow(rows, "recovery"); !one) return one;
  RowReader row(rows.rows[0], "recovery");
  RecoveryView recovery;
  recovery.lag_bytes = row.Optional(0, "lag bytes");
  recovery.lag_seconds = row.Optional(1, "lag seconds");
  recovery.replay_paused = row.Flag(2, "pg_is_wal_replay_paused");
  // No receiver at all: not streaming. A receiver whose status the role may
  // not see (no pg_read_all_stats): unknown, rather than a false "stopped".
  const std::string receiver = row.Text(3);
  if (receiver == "none") {
    recovery.receiver_streaming = false;
  } else if (!receiver.empty()) {
    recovery.receiver_streaming = receiver == "streaming";
  }
  if (Status done = row.Done(); !done) return done;
  stats.recovery = recovery;
  return {};
}

Result<PgStats> ReadPgStats(PostgresConnection& connection, const Deadline& deadline) {
  PgStats stats;
  struct Step {
    const char* sql;
    int max_rows;
    Status (*parse)(const QueryResult&, PgStats&);
  };
  const auto run = [&](const Step& step) -> Status {
    const Result<QueryResult> rows = connection.Query(step.sql, deadline, step.max_rows);
    if (!rows) return Fail(rows.error());
    return step.parse(*rows, stats);
  };
  if (Status done = run({kServerQuery, 1, &ParseServerRows}); !done) return Fail(done.error());
  if (Status done = run({kActivityQuery, kMaxStates, &ParseActivityRows}); !done) {
    return Fail(done.error());
  }
  const Step replication = stats.in_recovery
                               ? Step{kRecoveryQuery, 1, &ParseRecoveryRows}
                               : Step{kReplicasQuery, kMaxReplicas, &ParseReplicaRows};
  if (Status done = run(replication); !done) return Fail(done.error());
  return stats;
}

}  // namespace caloria
