#include "core/image/similarity_transform.h"

#include <cmath>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::image {
namespace {

using ::testing::HasSubstr;

const std::vector<cv::Point2f> kPoints = {
    {38.29f, 51.70f}, {73.53f, 51.50f}, {56.03f, 71.74f}, {41.55f, 92.37f}, {70.73f, 92.20f}};

cv::Matx23d Similarity(double scale, double radians, double tx, double ty) {
  const double a = scale * std::cos(radians);
  const double b = scale * std::sin(radians);
  return {a, -b, tx, b, a, ty};
}

std::vector<cv::Point2f> Apply(const cv::Matx23d& m, const std::vector<cv::Point2f>& points) {
  std::vector<cv::Point2f> out;
  for (const cv::Point2f& p : points) out.emplace_back(ApplyTransform(m, cv::Point2d(p)));
  return out;
}

double SquaredError(const cv::Matx23d& m, const std::vector<cv::Point2f>& src,
                    const std::vector<cv::Point2f>& dst) {
  double sum = 0;
  for (std::size_t i = 0; i < src.size(); ++i) {
    const cv::Point2d d = ApplyTransform(m, cv::Point2d(src[i])) - cv::Point2d(dst[i]);
    sum += d.dot(d);
  }
  return sum;
}

TEST(SimilarityTransformTest, RecoversExactTransform) {
  const cv::Matx23d truth = Similarity(1.7, 0.4, -12.5, 30.25);
  const absl::StatusOr<cv::Matx23d> m = EstimateSimilarityTransform(kPoints, Apply(truth, kPoints));
  ASSERT_TRUE(m.ok()) << m.status();
  for (int r = 0; r < 2; ++r) {
    for (int c = 0; c < 3; ++c) EXPECT_NEAR((*m)(r, c), truth(r, c), 1e-4) << r << "," << c;
  }
}

TEST(SimilarityTransformTest, IsTheLeastSquaresOptimumForNoisyPoints) {
  std::vector<cv::Point2f> dst = Apply(Similarity(0.8, -0.3, 5, 7), kPoints);
  const std::vector<cv::Point2f> noise = {{1.5f, -0.5f}, {-2, 1}, {0.5f, 2}, {1, -1.5f}, {-1, 0}};
  for (std::size_t i = 0; i < dst.size(); ++i) dst[i] += noise[i];
  const absl::StatusOr<cv::Matx23d> m = EstimateSimilarityTransform(kPoints, dst);
  ASSERT_TRUE(m.ok()) << m.status();
  const double best = SquaredError(*m, kPoints, dst);
  // Any nudge of the four similarity parameters (a, b, tx, ty) costs more.
  const double step = 1e-3;
  for (int param = 0; param < 4; ++param) {
    for (const double sign : {-1.0, 1.0}) {
      cv::Matx23d nudged = *m;
      const double d = sign * step;
      if (param == 0) {
        nudged(0, 0) += d;
        nudged(1, 1) += d;
      } else if (param == 1) {
        nudged(1, 0) += d;
        nudged(0, 1) -= d;
      } else {
        nudged(param - 2, 2) += d;
      }
      EXPECT_GT(SquaredError(nudged, kPoints, dst), best) << param << " " << sign;
    }
  }
}

TEST(SimilarityTransformTest, NeverReflects) {
  // Mirrored destination: the best similarity still has a positive
  // determinant (a reflection is not a similarity in our sense).
  std::vector<cv::Point2f> mirrored;
  for (const cv::Point2f& p : kPoints) mirrored.emplace_back(-p.x, p.y);
  const absl::StatusOr<cv::Matx23d> m = EstimateSimilarityTransform(kPoints, mirrored);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_GE((*m)(0, 0) * (*m)(1, 1) - (*m)(0, 1) * (*m)(1, 0), 0.0);
}

TEST(SimilarityTransformTest, RejectsCoincidentPoints) {
  const std::vector<cv::Point2f> same(5, cv::Point2f(10, 20));
  const absl::StatusOr<cv::Matx23d> m = EstimateSimilarityTransform(same, kPoints);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(m.status().message(), HasSubstr("coincide"));
}

TEST(SimilarityTransformTest, RejectsNonFiniteAndMismatchedInput) {
  std::vector<cv::Point2f> bad = kPoints;
  bad[2].y = std::numeric_limits<float>::quiet_NaN();
  EXPECT_THAT(EstimateSimilarityTransform(bad, kPoints).status().message(),
              HasSubstr("point 2 has a non-finite coordinate"));
  EXPECT_EQ(EstimateSimilarityTransform(kPoints, std::vector<cv::Point2f>(4)).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::image
