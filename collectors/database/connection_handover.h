#pragma once

#include <memory>
#include <mutex>
#include <string>

#include "collectors/database/postgres_connection.h"

namespace caloria {

// The database collector's PostgreSQL connection, lent to the pg_stats
// collector for the rest of the same poll: one connect per poll instead of
// two. A backend's fork and authentication are most of a poll's cost (about
// 20 ms of the 45 each collector took alone on loopback, bench/results), and
// the server sees one login per poll instead of two.
//
// Only a connection that answered the users query is given, so the taker
// gets an idle session. Nothing is given unless a taker was built
// (ExpectTaker), so no connection outlives its poll waiting for nobody.
class ConnectionHandOver {
 public:
  // Called by the pg_stats collector when it is built.
  void ExpectTaker();
  bool TakerExpected() const;

  // Leaves `connection` (made from the URL whose Redacted() is `url_key`)
  // for the taker; drops (closes) whatever an earlier poll left.
  void Give(std::unique_ptr<PostgresConnection> connection, std::string url_key);

  // The connection given in this poll if it was made for `url_key` (a reload
  // between the two collectors may have changed the URL), else null. Always
  // empties the slot: a connection is taken once or closed.
  std::unique_ptr<PostgresConnection> Take(const std::string& url_key);

 private:
  mutable std::mutex mutex_;
  bool taker_expected_ = false;
  std::unique_ptr<PostgresConnection> connection_;
  std::string url_key_;
};

}  // namespace caloria
