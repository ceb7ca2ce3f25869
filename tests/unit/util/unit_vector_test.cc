#include "core/util/unit_vector.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace qf {
namespace {

TEST(UnitLengthTest, ScalesToLengthOneKeepingDirection) {
  auto unit = UnitLength({3.f, 0.f, -4.f});
  ASSERT_TRUE(unit.ok()) << unit.status();
  EXPECT_FLOAT_EQ((*unit)[0], 0.6f);
  EXPECT_FLOAT_EQ((*unit)[1], 0.f);
  EXPECT_FLOAT_EQ((*unit)[2], -0.8f);
  // Tiny values whose float squares underflow still have a direction: the
  // norm is summed in double.
  auto tiny = UnitLength({1e-30f, 1e-30f});
  ASSERT_TRUE(tiny.ok()) << tiny.status();
  EXPECT_NEAR((*tiny)[0], std::sqrt(0.5f), 1e-6);
}

TEST(UnitLengthTest, RefusesVectorsWithoutDirection) {
  EXPECT_EQ(UnitLength({0.f, 0.f}).status().message(), "embedding is all zeros");
  EXPECT_EQ(UnitLength({}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(UnitLength({1.f, std::numeric_limits<float>::quiet_NaN()}).status().message(),
            "embedding has a non-finite value");
  EXPECT_EQ(UnitLength({std::numeric_limits<float>::infinity(), 1.f}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf
