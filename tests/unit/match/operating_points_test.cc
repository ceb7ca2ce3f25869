#include "core/match/operating_points.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdio>
#include <fstream>
#include <vector>

#include "core/eval/all_pairs_tar.h"
#include "core/eval/lfw_all_pairs.h"
#include "core/eval/verification_report.h"

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

// `bench lfw --flip` reports mirror-averaged embeddings, whose scores have
// other thresholds than plain embeddings': each kind serves only its own.
TEST(OperatingPointsTest, MirrorAveragedReportsServeOnlyMirrorAveragedScores) {
  nlohmann::json report = Report();
  report["flip"] = false;
  EXPECT_TRUE(OperatingPoints::FromReport(report, "lfw").ok());
  auto refused = OperatingPoints::FromReport(report, "lfw", /*flip_average=*/true);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("again with --flip"), std::string::npos)
      << refused.status().message();
  report["flip"] = true;
  refused = OperatingPoints::FromReport(report, "lfw");
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("without --flip"), std::string::npos)
      << refused.status().message();
  const auto flipped = OperatingPoints::FromReport(report, "lfw", /*flip_average=*/true);
  ASSERT_TRUE(flipped.ok()) << flipped.status();
  EXPECT_FLOAT_EQ(flipped->ForFar(1e-3)->threshold, 0.52f);
}

TEST(OperatingPointsTest, MalformedReportsAreRejected) {
  EXPECT_FALSE(OperatingPoints::FromReport(nlohmann::json::object(), "lfw").ok());
  auto bad = nlohmann::json::parse(R"({"tar_at_far": [{"measurable": true, "far": 1}]})");
  EXPECT_EQ(OperatingPoints::FromReport(bad, "lfw").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(OperatingPoints::FromReportFile("/nonexistent.json", "lfw").status().code(),
            absl::StatusCode::kNotFound);
}

// The report `quantface bench lfw --protocol all-pairs` writes, built by the
// same functions from 90 embeddings of 30 people: 90 same and 3,915
// different pairs, so FAR 1e-2 is measurable and 1e-4 is not.
TEST(OperatingPointsTest, AllPairsReportsServeTheirThresholds) {
  torch::manual_seed(11);
  std::vector<int> identity, group;
  std::vector<torch::Tensor> rows;
  for (int p = 0; p < 30; ++p) {
    const torch::Tensor centre = torch::randn({8}, torch::kFloat64);
    for (int i = 0; i < 3; ++i) {
      rows.push_back(centre + 0.7 * torch::randn({8}, torch::kFloat64));
      identity.push_back(p);
      group.push_back(p % 2);
    }
  }
  eval::LfwAllPairsResult result;
  auto tar = eval::ComputeAllPairsTar(torch::stack(rows), identity, group, {1e-2, 1e-4});
  ASSERT_TRUE(tar.ok()) << tar.status();
  result.tar = *tar;
  const nlohmann::json report = eval::LfwAllPairsResultToJson(result);

  auto points = OperatingPoints::FromReport(report, "lfw");
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_EQ(points->protocol(), eval::kLfwAllPairsBenchmark);
  auto point = points->ForFar(1e-2);
  ASSERT_TRUE(point.ok()) << point.status();
  EXPECT_FLOAT_EQ(point->threshold, static_cast<float>(tar->tar_at_far[0].threshold));
  EXPECT_DOUBLE_EQ(point->tar, tar->tar_at_far[0].tar);
  EXPECT_DOUBLE_EQ(point->far, tar->tar_at_far[0].far);
  auto unmeasured = points->ForFar(1e-4);
  EXPECT_EQ(unmeasured.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unmeasured.status().message().find("on protocol 'lfw-all-pairs'"), std::string::npos)
      << unmeasured.status().message();
}

TEST(OperatingPointsTest, ABenchmarkNameThatIsNoStringIsMalformed) {
  nlohmann::json report = Report();
  report["benchmark"] = 3;
  const auto points = OperatingPoints::FromReport(report, "lfw");
  EXPECT_EQ(points.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(points.status().message().find("malformed evaluation report"), std::string::npos)
      << points.status().message();
  // An all-pairs report without its section has no points to serve.
  const nlohmann::json empty = {{"benchmark", eval::kLfwAllPairsBenchmark}};
  EXPECT_EQ(OperatingPoints::FromReport(empty, "lfw").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A student's report with the teacher-vs-student pairs as a section of its
// own: read by name, with the report's kind of embedding.
TEST(OperatingPointsTest, ASectionOfTheReportServesItsOwnThresholds) {
  const std::string path = ::testing::TempDir() + "/section_report.json";
  nlohmann::json report = Report();
  nlohmann::json cross = Report();
  cross["metrics"]["tar_at_far"][1]["threshold"] = 0.47;
  report["cross_teacher_student"] = cross;
  std::ofstream(path) << report.dump();
  auto points = OperatingPoints::FromReportFile(path, "lfw", false, "cross_teacher_student");
  ASSERT_TRUE(points.ok()) << points.status();
  EXPECT_FLOAT_EQ(points->ForFar(1e-3)->threshold, 0.47f);
  EXPECT_FLOAT_EQ(OperatingPoints::FromReportFile(path, "lfw")->ForFar(1e-3)->threshold, 0.52f);

  report["flip"] = true;  // The section was measured as the report was.
  std::ofstream(path) << report.dump();
  EXPECT_EQ(
      OperatingPoints::FromReportFile(path, "lfw", false, "cross_teacher_student").status().code(),
      absl::StatusCode::kFailedPrecondition);
  EXPECT_TRUE(OperatingPoints::FromReportFile(path, "lfw", true, "cross_teacher_student").ok());

  report["cross_teacher_student"] = nlohmann::json::array({1});
  std::ofstream(path) << report.dump();
  EXPECT_EQ(
      OperatingPoints::FromReportFile(path, "lfw", true, "cross_teacher_student").status().code(),
      absl::StatusCode::kNotFound);
  EXPECT_EQ(OperatingPoints::FromReportFile(path, "lfw", true, "absent").status().code(),
            absl::StatusCode::kNotFound);
  std::remove(path.c_str());
}

}  // namespace
}  // namespace qf::match
