#include "core/eval/roc_plot.h"

#include <filesystem>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include "absl/status/status.h"
#include "gtest/gtest.h"

namespace qf::eval {
namespace {

RocCurve Curve(double shift) {
  std::vector<ScoredPair> pairs;
  for (int i = 0; i < 2000; ++i) {
    pairs.push_back({shift + i / 2000.0, true, 1});
    pairs.push_back({i / 2000.0 - 0.3, false, 1});
  }
  return *ComputeRoc(pairs);
}

// Counts pixels close to a BGR colour.
int CountColour(const cv::Mat& image, cv::Vec3b colour) {
  int count = 0;
  for (int y = 0; y < image.rows; ++y) {
    for (int x = 0; x < image.cols; ++x) {
      const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
      if (std::abs(p[0] - colour[0]) + std::abs(p[1] - colour[1]) + std::abs(p[2] - colour[2]) <
          30) {
        ++count;
      }
    }
  }
  return count;
}

TEST(RocPlotTest, RendersDecodablePngWithEachCurve) {
  const RocCurve a = Curve(0.0);
  const RocCurve b = Curve(-0.2);
  RocPlotOptions options;
  options.width = 640;
  options.height = 480;
  const absl::StatusOr<std::string> png = RenderRocPng({{"teacher", &a}, {"student", &b}}, options);
  ASSERT_TRUE(png.ok()) << png.status();
  ASSERT_EQ(png->substr(1, 3), "PNG");
  const cv::Mat image = cv::imdecode(
      cv::Mat(1, static_cast<int>(png->size()), CV_8UC1, const_cast<char*>(png->data())),
      cv::IMREAD_COLOR);
  ASSERT_EQ(image.cols, 640);
  ASSERT_EQ(image.rows, 480);
  // The first two palette colours (curves and legend) are present.
  EXPECT_GT(CountColour(image, cv::Vec3b(180, 119, 31)), 100);
  EXPECT_GT(CountColour(image, cv::Vec3b(14, 127, 255)), 100);
  // A third one is not: only two curves.
  EXPECT_EQ(CountColour(image, cv::Vec3b(44, 160, 44)), 0);
}

TEST(RocPlotTest, WritesFileAndRejectsBadInput) {
  const RocCurve a = Curve(0.0);
  const std::string path = ::testing::TempDir() + "/roc_plot_test.png";
  ASSERT_TRUE(WriteRocPng(path, {{"model", &a}}).ok());
  EXPECT_FALSE(cv::imread(path).empty());

  EXPECT_EQ(RenderRocPng({}).status().code(), absl::StatusCode::kInvalidArgument);
  const RocCurve empty;
  EXPECT_EQ(RenderRocPng({{"empty", &empty}}).status().code(), absl::StatusCode::kInvalidArgument);
  RocPlotOptions tiny;
  tiny.width = 50;
  EXPECT_EQ(RenderRocPng({{"model", &a}}, tiny).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(WriteRocPng("/nonexistent-dir/roc.png", {{"model", &a}}).code(),
            absl::StatusCode::kPermissionDenied);
}

TEST(RocPlotTest, MarksOperatingPointsWithDots) {
  const RocCurve a = Curve(0.0);
  RocPlotOptions options;  // 800 x 600: plot area x 70..780, y 40..545.
  options.min_tar = 0;
  const auto decode = [](const std::string& png) {
    return cv::imdecode(
        cv::Mat(1, static_cast<int>(png.size()), CV_8UC1, const_cast<char*>(png.data())),
        cv::IMREAD_COLOR);
  };
  const cv::Mat plain = decode(*RenderRocPng({{"model", &a}}, options));
  options.marked_fars = {1e-2, 1e-3};
  const absl::StatusOr<std::string> png = RenderRocPng({{"model", &a}}, options);
  ASSERT_TRUE(png.ok()) << png.status();
  const cv::Mat marked = decode(*png);
  // The dot at FAR 1e-2 (half way along the 1e-4..1 axis) sits on the curve
  // at TAR@FAR=1e-2: many more curve-coloured pixels there than the line has.
  const double tar = ComputeTarAtFar(a, 1e-2).tar;
  const cv::Rect around(70 + 355 - 5, 40 + static_cast<int>((1 - tar) * 505) - 5, 11, 11);
  const int with_dot = CountColour(marked(around), cv::Vec3b(180, 119, 31));
  const int without = CountColour(plain(around), cv::Vec3b(180, 119, 31));
  EXPECT_GT(with_dot, 60);
  EXPECT_LT(without, 45);
  options.marked_fars = {2.0};
  EXPECT_EQ(RenderRocPng({{"model", &a}}, options).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::eval
