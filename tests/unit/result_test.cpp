#include "core/result.h"

#include <gtest/gtest.h>

#include <memory>
#include <stdexcept>
#include <string>

namespace caloria {
namespace {

Result<int> Half(int value) {
  if (value % 2 != 0) return Fail(std::to_string(value) + " is odd: give an even number");
  return value / 2;
}

TEST(Result, HoldsTheValueOnSuccess) {
  const Result<int> half = Half(8);
  ASSERT_TRUE(half.ok());
  EXPECT_TRUE(static_cast<bool>(half));
  EXPECT_EQ(*half, 4);
  EXPECT_EQ(half.value(), 4);
}

TEST(Result, HoldsTheMessageOnFailure) {
  const Result<int> half = Half(3);
  ASSERT_FALSE(half.ok());
  EXPECT_EQ(half.error(), "3 is odd: give an even number");
}

TEST(Result, ReadingTheValueOfAFailureIsABugThatThrows) {
  const Result<int> half = Half(3);
  EXPECT_THROW(static_cast<void>(*half), std::logic_error);
  EXPECT_THROW(static_cast<void>(Half(4).error()), std::logic_error);
}

TEST(Result, MovesOnlyValuesOut) {
  Result<std::unique_ptr<int>> owned = std::make_unique<int>(7);
  ASSERT_TRUE(owned.ok());
  std::unique_ptr<int> taken = std::move(*owned);
  EXPECT_EQ(*taken, 7);
}

TEST(Result, StatusIsSuccessOrAnError) {
  const Status fine;
  EXPECT_TRUE(fine.ok());
  const Status broken = Fail("the disk is full: free some space");
  ASSERT_FALSE(broken.ok());
  EXPECT_EQ(broken.error(), "the disk is full: free some space");
  EXPECT_THROW(static_cast<void>(fine.error()), std::logic_error);
}

}  // namespace
}  // namespace caloria
