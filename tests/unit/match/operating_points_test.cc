#include "core/match/operating_points.h"

#include <gtest/gtest.h>

namespace qf::match {
namespace {

nlohmann::json Report() {
  return nlohmann::json::parse(R"({"metrics": {"tar_at_far": [
      {"far_target": 0.01, "far": 0.0097, "tar": 0.99, "threshold": 0.41, "measurable": true},
      {"far_target": 0.001, "far": 0.001, "tar": 0.96, "threshold": 0.52, "measurable": true},
      {"far_target": 0.0001, "far": 0.0, "tar": 0.90, "threshold": 0.61, "measurable": false}
  ]}})");
}

TEST(OperatingPointsTest, PicksTheMeasuredThreshold) {
  auto points = OperatingPoints::FromReport(Report(), "lfw");
  ASSERT_TRUE(points.ok()) << points.status();
  auto point = points->ForFar(1e-3);
  ASSERT_TRUE(point.ok());
  EXPECT_FLOAT_EQ(point->threshold, 0.52f);
  EXPECT_DOUBLE_EQ(point->tar, 0.96);
}

TEST(OperatingPointsTest, UnmeasurableTargetsAreNotOffered) {
  auto points = OperatingPoints::FromReport(Report(), "lfw");
  ASSERT_TRUE(points.ok());
  EXPECT_EQ(points->points().size(), 2u);
  auto point = points->ForFar(1e-4);
  EXPECT_EQ(point.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(point.status().message().find("0.01, 0.001"), std::string::npos)
      << point.status().message();
}

TEST(OperatingPointsTest, MalformedReportsAreRejected) {
  EXPECT_FALSE(OperatingPoints::FromReport(nlohmann::json::object(), "lfw").ok());
  auto bad = nlohmann::json::parse(R"({"tar_at_far": [{"measurable": true, "far": 1}]})");
  EXPECT_EQ(OperatingPoints::FromReport(bad, "lfw").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OperatingPoints::FromReportFile("/nonexistent.json", "lfw").status().code(),
            absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qf::match
