#include "collectors/postgres_stats/pg_stats_collector.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <utility>

#include "collectors/database/postgres_connection.h"
#include "collectors/postgres_stats/pg_stats.h"

namespace caloria {
namespace {

void Publish(const PgStats& stats, CollectorResult& result) {
  auto& out = result.families;
  out.push_back(SingleGauge("caloria_postgres_max_connections",
                            "The server's max_connections setting.", stats.max_connections));
  out.push_back(SingleGauge(
      "caloria_postgres_superuser_reserved_connections",
      "The server's superuser_reserved_connections: of max_connections, what the app's role "
      "can never have.",
      stats.superuser_reserved_connections));
  prometheus::MetricFamily connections =
      GaugeFamily("caloria_postgres_connections",
                  "Client connections to the whole server by state (pg_stat_activity), the "
                  "exporter's own excepted.");
  for (const auto& [state, count] : stats.connections) {
    AddGauge(connections, count, {{"state", state}});
  }
  out.push_back(std::move(connections));
  out.push_back(SingleGauge("caloria_postgres_database_size_bytes",
                            "Size of the app's database on disk (pg_database_size).",
                            stats.database_size_bytes));
  out.push_back(SingleCounter("caloria_postgres_transactions_committed_total",
                              "Transactions committed in the app's database (pg_stat_database).",
                              stats.transactions_committed));
  out.push_back(SingleCounter("caloria_postgres_transactions_rolled_back_total",
                              "Transactions rolled back in the app's database.",
                              stats.transactions_rolled_back));
  out.push_back(SingleCounter("caloria_postgres_deadlocks_total",
                              "Deadlocks detected in the app's database.", stats.deadlocks));
  out.push_back(SingleCounter("caloria_postgres_blocks_hit_total",
                              "Block reads of the app's database served from PostgreSQL's "
                              "buffer cache. Cache hit ratio: rate(hit) / (rate(hit) + "
                              "rate(read)).",
                              stats.blocks_hit));
  out.push_back(SingleCounter("caloria_postgres_blocks_read_total",
                              "Block reads of the app's database that missed the buffer cache.",
                              stats.blocks_read));
  out.push_back(SingleGauge("caloria_postgres_longest_transaction_seconds",
                            "Age of the oldest open transaction on the server (0 when none).",
                            stats.longest_transaction_seconds));
  out.push_back(SingleGauge(
      "caloria_postgres_oldest_idle_in_transaction_seconds",
      "How long the longest idle-in-transaction session has been idle (0 when none): it holds "
      "locks and a connection, and stops VACUUM.",
      stats.oldest_idle_in_transaction_seconds));
  out.push_back(SingleGauge("caloria_postgres_in_recovery",
                            "1 when the server is a replica (in recovery), 0 on a primary.",
                            stats.in_recovery ? 1 : 0));
  if (!stats.in_recovery) {
    out.push_back(SingleGauge(
        "caloria_postgres_replicas",
        "Replicas streaming from this primary (pg_stat_replication in state streaming).",
        static_cast<double>(std::count_if(
            stats.replicas.begin(), stats.replicas.end(),
            [](const ReplicaView& replica) { return replica.state == "streaming"; }))));
    prometheus::MetricFamily lag_bytes =
        GaugeFamily("caloria_postgres_replica_lag_bytes",
                    "WAL this primary has written that the replica has not replayed yet.");
    prometheus::MetricFamily lag_seconds = GaugeFamily(
        "caloria_postgres_replica_lag_seconds",
        "The replica's replay lag as the primary measures it (replay_lag; 0 when caught up).");
    for (const ReplicaView& replica : stats.replicas) {
      const std::vector<prometheus::ClientMetric::Label> labels = {
          {"application_name", replica.application_name}, {"client_addr", replica.client_addr}};
      if (replica.lag_bytes) AddGauge(lag_bytes, *replica.lag_bytes, labels);
      if (replica.lag_seconds) AddGauge(lag_seconds, *replica.lag_seconds, labels);
    }
    if (!lag_bytes.metric.empty()) out.push_back(std::move(lag_bytes));
    if (!lag_seconds.metric.empty()) out.push_back(std::move(lag_seconds));
  }
  if (stats.recovery) {
    const RecoveryView& recovery = *stats.recovery;
    if (recovery.receiver_streaming) {
      out.push_back(SingleGauge(
          "caloria_postgres_replication_receiver_streaming",
          "On a replica: 1 while its WAL receiver streams from the primary, 0 when it does not.",
          *recovery.receiver_streaming ? 1 : 0));
    }
    out.push_back(SingleGauge("caloria_postgres_replication_replay_paused",
                              "On a replica: 1 while WAL replay is paused (pg_wal_replay_pause).",
                              recovery.replay_paused ? 1 : 0));
    if (recovery.lag_bytes) {
      out.push_back(SingleGauge("caloria_postgres_replication_lag_bytes",
                                "On a replica: WAL received but not yet replayed.",
                                *recovery.lag_bytes));
    }
    if (recovery.lag_seconds) {
      out.push_back(SingleGauge(
          "caloria_postgres_replication_lag_seconds",
          "On a replica: how far replay is behind, as the age of the last replayed transaction "
          "while WAL waits to be replayed; 0 when caught up.",
          *recovery.lag_seconds));
    }
  }
}

}  // namespace

PgStatsCollector::PgStatsCollector(UrlSource source, std::shared_ptr<Observed<bool>> database_up,
                                   std::shared_ptr<ConnectionHandOver> handover)
    : source_(std::move(source)),
      database_up_(std::move(database_up)),
      handover_(std::move(handover)) {
  if (handover_) handover_->ExpectTaker();
}

CollectorResult PgStatsCollector::Collect(const Deadline& deadline) {
  CollectorResult result;
  const SqlalchemyUrl url = source_();
  // Taken first, before any return, so a given connection never outlives
  // its poll.
  std::unique_ptr<PostgresConnection> connection =
      handover_ ? handover_->Take(url.Redacted()) : nullptr;
  if (url.type != DatabaseType::kPostgresql) return result;  // SQLite has no pg_stat_*
  // The database collector just failed to connect and reports why
  // (caloria_database_up 0): a second wait on a hung server would only
  // delay the poll.
  const std::optional<bool> up = database_up_ ? database_up_->Get() : std::nullopt;
  if (up.has_value() && !*up) return result;
  if (!connection) {
    auto connected = PostgresConnection::Connect(
        url, deadline, std::max(deadline.Remaining(), std::chrono::milliseconds(1)));
    if (!connected) {
      // The database collector reports the outage (caloria_database_up 0).
      result.error = "cannot connect for the pg_stat_* views: " + url.Scrub(connected.error());
      return result;
    }
    connection = std::move(*connected);
  }
  const Result<PgStats> stats = ReadPgStats(*connection, deadline);
  if (!stats) {
    result.error = url.Scrub(stats.error()) +
                   " (the role needs pg_monitor: GRANT pg_monitor TO the exporter's role)";
    return result;
  }
  Publish(*stats, result);
  return result;
}

CollectorSpec PgStatsCollectorSpec() {
  CollectorSpec spec;
  spec.name = "pg_stats";
  // After the database collector, which hands its connection over.
  spec.runs_after = {"config", "database"};
  spec.title = "PostgreSQL statistics collector";
  spec.help =
      "Read the app's PostgreSQL server's pg_stat_* views: connections by state against "
      "max_connections, database size, transactions, deadlocks, cache hits, long and "
      "idle-in-transaction sessions, replication";
  spec.make = [](const CollectorContext& context) -> Result<std::unique_ptr<Collector>> {
    const ConfigStore& store = context.store;
    PgStatsCollector::UrlSource source = [&store] { return store.Latest()->database.url; };
    return std::unique_ptr<Collector>(std::make_unique<PgStatsCollector>(
        std::move(source), context.shared.database_up, context.shared.postgres_handover));
  };
  return spec;
}

}  // namespace caloria
