#include "collectors/database/connection_handover.h"

#include <gtest/gtest.h>

namespace caloria {
namespace {

// A PostgresConnection object without a server: the handover only moves it.
std::unique_ptr<PostgresConnection> Unconnected() {
  return std::make_unique<PostgresConnection>(
      std::unique_ptr<PGconn, PostgresConnection::Finisher>());
}

TEST(ConnectionHandOver, NothingIsExpectedUntilATakerIsBuilt) {
  ConnectionHandOver handover;
  EXPECT_FALSE(handover.TakerExpected());
  handover.ExpectTaker();
  EXPECT_TRUE(handover.TakerExpected());
}

TEST(ConnectionHandOver, TheGivenConnectionIsTakenOnce) {
  ConnectionHandOver handover;
  auto connection = Unconnected();
  const PostgresConnection* given = connection.get();
  handover.Give(std::move(connection), "postgresql://app@db/caloria");
  EXPECT_EQ(handover.Take("postgresql://app@db/caloria").get(), given);
  EXPECT_EQ(handover.Take("postgresql://app@db/caloria"), nullptr);
}

TEST(ConnectionHandOver, AConnectionToAnotherUrlIsClosedNotLent) {
  // A reload between the database collector and pg_stats changed the URL.
  ConnectionHandOver handover;
  handover.Give(Unconnected(), "postgresql://app@old/caloria");
  EXPECT_EQ(handover.Take("postgresql://app@new/caloria"), nullptr);
  // ... and the slot is empty afterwards, even for the old URL.
  EXPECT_EQ(handover.Take("postgresql://app@old/caloria"), nullptr);
}

TEST(ConnectionHandOver, ANewGiftReplacesOneNobodyTook) {
  ConnectionHandOver handover;
  handover.Give(Unconnected(), "postgresql://app@db/caloria");
  auto second = Unconnected();
  const PostgresConnection* newest = second.get();
  handover.Give(std::move(second), "postgresql://app@db/caloria");
  EXPECT_EQ(handover.Take("postgresql://app@db/caloria").get(), newest);
}

}  // namespace
}  // namespace caloria
