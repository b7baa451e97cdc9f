#include "http/connection_limiter.h"

#include <gtest/gtest.h>

#include <vector>

namespace caloria {
namespace {

using Refusal = ConnectionLimiter::Refusal;

TEST(ConnectionLimiter, OneAddressCannotTakeEverySlot) {
  ConnectionLimiter limiter(10, 3);
  std::vector<ConnectionLimiter::Slot> held;
  for (int i = 0; i < 3; ++i) {
    auto slot = limiter.Admit("192.0.2.1", nullptr);
    ASSERT_TRUE(slot);
    held.push_back(std::move(*slot));
  }
  Refusal refusal{};
  EXPECT_FALSE(limiter.Admit("192.0.2.1", &refusal));
  EXPECT_EQ(refusal, Refusal::kTooManyFromAddress);
  EXPECT_TRUE(limiter.Admit("192.0.2.2", nullptr));  // another client still gets in
  EXPECT_EQ(limiter.OpenFrom("192.0.2.1"), 3);
}

TEST(ConnectionLimiter, TheTotalCapHoldsAcrossAddresses) {
  ConnectionLimiter limiter(2, 5);
  auto first = limiter.Admit("192.0.2.1", nullptr);
  auto second = limiter.Admit("192.0.2.2", nullptr);
  ASSERT_TRUE(first && second);
  Refusal refusal{};
  EXPECT_FALSE(limiter.Admit("192.0.2.3", &refusal));
  EXPECT_EQ(refusal, Refusal::kTooManyConnections);
  EXPECT_EQ(limiter.Open(), 2);
}

TEST(ConnectionLimiter, ASlotIsGivenBackWhenItsHolderGoes) {
  ConnectionLimiter limiter(1, 1);
  {
    auto slot = limiter.Admit("192.0.2.1", nullptr);
    ASSERT_TRUE(slot);
    auto moved = std::move(*slot);  // moving does not give it back twice
    EXPECT_FALSE(limiter.Admit("192.0.2.1", nullptr));
  }
  EXPECT_EQ(limiter.Open(), 0);
  EXPECT_EQ(limiter.OpenFrom("192.0.2.1"), 0);
  EXPECT_TRUE(limiter.Admit("192.0.2.1", nullptr));
}

}  // namespace
}  // namespace caloria
