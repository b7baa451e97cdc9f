#include "collectors/postgres_stats/pg_stats.h"

#include <gtest/gtest.h>

#include <string>

namespace caloria {
namespace {

QueryResult Rows(std::vector<QueryRow> rows) {
  QueryResult result;
  result.columns = rows.empty() ? 0 : static_cast<int>(rows.front().size());
  result.rows = std::move(rows);
  return result;
}

TEST(PgStats, ConnectionStatesBecomeLabelValues) {
  EXPECT_EQ(ConnectionStateLabel("active"), "active");
  EXPECT_EQ(ConnectionStateLabel("idle in transaction"), "idle_in_transaction");
  EXPECT_EQ(ConnectionStateLabel("idle in transaction (aborted)"), "idle_in_transaction_aborted");
  EXPECT_EQ(ConnectionStateLabel("fastpath function call"), "fastpath_function_call");
  EXPECT_EQ(ConnectionStateLabel(""), "unknown");
}

TEST(PgStats, TheServerRowIsReadColumnByColumn) {
  PgStats stats;
  ASSERT_TRUE(ParseServerRows(
      Rows({{"100", "3", "f", "7631403", "1200", "7", "2", "98000", "2000"}}), stats));
  EXPECT_EQ(stats.max_connections, 100);
  EXPECT_EQ(stats.superuser_reserved_connections, 3);
  EXPECT_FALSE(stats.in_recovery);
  EXPECT_EQ(stats.database_size_bytes, 7631403);
  EXPECT_EQ(stats.transactions_committed, 1200);
  EXPECT_EQ(stats.transactions_rolled_back, 7);
  EXPECT_EQ(stats.deadlocks, 2);
  EXPECT_EQ(stats.blocks_hit, 98000);
  EXPECT_EQ(stats.blocks_read, 2000);

  PgStats replica;
  ASSERT_TRUE(ParseServerRows(Rows({{"100", "3", "t", "1", "0", "0", "0", "0", "0"}}), replica));
  EXPECT_TRUE(replica.in_recovery);
}

TEST(PgStats, AnOddServerAnswerNamesTheColumn) {
  PgStats stats;
  const Status none = ParseServerRows(Rows({}), stats);
  ASSERT_FALSE(none);
  EXPECT_EQ(none.error(),
            "the server query returned 0 rows, not one (is the exporter connected to a database "
            "that exists?)");
  const Status bad =
      ParseServerRows(Rows({{"100", "3", "yes", "1", "0", "0", "0", "0", "0"}}), stats);
  ASSERT_FALSE(bad);
  EXPECT_EQ(bad.error(), "the server query's pg_is_in_recovery is not a boolean");
  const Status null_size =
      ParseServerRows(Rows({{"100", "3", "f", std::nullopt, "0", "0", "0", "0", "0"}}), stats);
  ASSERT_FALSE(null_size);
  EXPECT_EQ(null_size.error(), "the server query's database size is not a number");
  const Status short_row = ParseServerRows(Rows({{"100", "3", "f"}}), stats);
  ASSERT_FALSE(short_row);
  EXPECT_EQ(short_row.error(), "the server query's database size is missing");
}

TEST(PgStats, ConnectionsAreSummedByStateWithTheCommonStatesAlwaysPresent) {
  PgStats stats;
  ASSERT_TRUE(ParseActivityRows(Rows({{"active", "2", "0.5", "0"},
                                      {"idle in transaction", "1", "42.5", "40.25"},
                                      {"", "3", "0", "0"}}),
                                stats));
  EXPECT_EQ(stats.connections.at("active"), 2);
  EXPECT_EQ(stats.connections.at("idle"), 0);
  EXPECT_EQ(stats.connections.at("idle_in_transaction"), 1);
  EXPECT_EQ(stats.connections.at("idle_in_transaction_aborted"), 0);
  EXPECT_EQ(stats.connections.at("unknown"), 3);
  EXPECT_EQ(stats.longest_transaction_seconds, 42.5);
  EXPECT_EQ(stats.oldest_idle_in_transaction_seconds, 40.25);

  PgStats empty;
  ASSERT_TRUE(ParseActivityRows(Rows({}), empty));
  EXPECT_EQ(empty.connections.size(), 4u);
  EXPECT_EQ(empty.longest_transaction_seconds, 0);
}

TEST(PgStats, AReplicaCaughtUpHasNoLagAndOneNotYetReplayingHasNoSeconds) {
  PgStats stats;
  ASSERT_TRUE(ParseReplicaRows(Rows({{"walreceiver", "127.0.0.1", "streaming", "0", std::nullopt},
                                     {"r2", "10.0.0.2", "streaming", "8192", "1.5"},
                                     {"r3", "", "startup", std::nullopt, std::nullopt}}),
                               stats));
  ASSERT_EQ(stats.replicas.size(), 3u);
  EXPECT_EQ(stats.replicas[0].lag_seconds, 0.0) << "replay_lag NULL while caught up: no lag";
  EXPECT_EQ(stats.replicas[1].lag_bytes, 8192);
  EXPECT_EQ(stats.replicas[1].lag_seconds, 1.5);
  EXPECT_FALSE(stats.replicas[2].lag_bytes.has_value());
  EXPECT_FALSE(stats.replicas[2].lag_seconds.has_value());
}

TEST(PgStats, TheRecoveryRowOfAReplica) {
  PgStats stats;
  ASSERT_TRUE(ParseRecoveryRows(Rows({{"16384", "12.5", "t", "streaming"}}), stats));
  ASSERT_TRUE(stats.recovery.has_value());
  EXPECT_EQ(stats.recovery->lag_bytes, 16384);
  EXPECT_EQ(stats.recovery->lag_seconds, 12.5);
  EXPECT_TRUE(stats.recovery->replay_paused);
  EXPECT_EQ(stats.recovery->receiver_streaming, true);

  PgStats never_streamed;
  ASSERT_TRUE(ParseRecoveryRows(Rows({{std::nullopt, std::nullopt, "f", "none"}}), never_streamed));
  EXPECT_FALSE(never_streamed.recovery->lag_bytes.has_value());
  EXPECT_EQ(never_streamed.recovery->receiver_streaming, false);

  PgStats waiting;
  ASSERT_TRUE(ParseRecoveryRows(Rows({{"0", "0", "f", "waiting"}}), waiting));
  EXPECT_EQ(waiting.recovery->receiver_streaming, false);

  // A role without pg_read_all_stats sees the receiver's row, not its status.
  PgStats hidden;
  ASSERT_TRUE(ParseRecoveryRows(Rows({{"0", "0", "f", ""}}), hidden));
  EXPECT_FALSE(hidden.recovery->receiver_streaming.has_value());
}

}  // namespace
}  // namespace caloria
