#include "core/detect/five_point.h"

#include <gtest/gtest.h>

namespace qf::detect {
namespace {

// Point i of the synthetic markup sits at (i, 1000 + 2 i), so every output
// coordinate reveals which iBUG indices it was computed from.
std::array<cv::Point2f, kIbugPointCount> IndexedMarkup() {
  std::array<cv::Point2f, kIbugPointCount> points;
  for (int i = 0; i < kIbugPointCount; ++i) {
    points[i] = cv::Point2f(static_cast<float>(i), 1000.f + 2.f * static_cast<float>(i));
  }
  return points;
}

TEST(FivePointTest, EyeCentresAreMeansOfTheSixContourPoints) {
  const auto five = FivePointsFromIbug68(IndexedMarkup());
  // Mean of 36..41 is 38.5; of 42..47 is 44.5.
  EXPECT_FLOAT_EQ(five[0].x, 38.5f);
  EXPECT_FLOAT_EQ(five[0].y, 1077.f);
  EXPECT_FLOAT_EQ(five[1].x, 44.5f);
  EXPECT_FLOAT_EQ(five[1].y, 1089.f);
}

TEST(FivePointTest, NoseTipAndMouthCorners) {
  const auto five = FivePointsFromIbug68(IndexedMarkup());
  EXPECT_EQ(five[2], cv::Point2f(30.f, 1060.f));
  EXPECT_EQ(five[3], cv::Point2f(48.f, 1096.f));
  EXPECT_EQ(five[4], cv::Point2f(54.f, 1108.f));
}

using Five = std::array<cv::Point2f, 5>;

// An upright face with a 100 px inter-ocular distance.
const Five kUpright = {cv::Point2f(0.f, 0.f), cv::Point2f(100.f, 0.f), cv::Point2f(50.f, 50.f),
                       cv::Point2f(20.f, 80.f), cv::Point2f(80.f, 80.f)};

void ExpectNear(const Five& actual, const Five& expected) {
  for (size_t i = 0; i < actual.size(); ++i) {
    EXPECT_NEAR(actual[i].x, expected[i].x, 1e-3f) << "point " << i;
    EXPECT_NEAR(actual[i].y, expected[i].y, 1e-3f) << "point " << i;
  }
}

TEST(ToMtcnnConventionTest, UprightFaceMovesEyesUpNoseDownMouthUpAndIn) {
  // Offsets of five_point.cc times the 100 px inter-ocular distance.
  ExpectNear(ToMtcnnConvention(kUpright),
             {cv::Point2f(-0.25f, -2.48f), cv::Point2f(100.25f, -2.48f), cv::Point2f(50.f, 53.04f),
              cv::Point2f(20.56f, 78.35f), cv::Point2f(79.44f, 78.35f)});
}

TEST(ToMtcnnConventionTest, CommutesWithRotationAndScale) {
  // 90 degrees clockwise on screen and half size, about the origin:
  // (x, y) -> (-y / 2, x / 2).
  const auto turn = [](const Five& points) {
    Five result;
    for (size_t i = 0; i < points.size(); ++i) {
      result[i] = cv::Point2f(-points[i].y / 2.f, points[i].x / 2.f);
    }
    return result;
  };
  ExpectNear(ToMtcnnConvention(turn(kUpright)), turn(ToMtcnnConvention(kUpright)));
}

TEST(ToMtcnnConventionTest, CommutesWithMirroring) {
  // A mirror image swaps which physical eye is "left" (smaller x).
  const auto mirror = [](const Five& p) {
    const auto m = [](cv::Point2f q) { return cv::Point2f(-q.x, q.y); };
    return Five{m(p[1]), m(p[0]), m(p[2]), m(p[4]), m(p[3])};
  };
  const Five skewed = {cv::Point2f(3.f, 4.f), cv::Point2f(98.f, -6.f), cv::Point2f(60.f, 45.f),
                       cv::Point2f(25.f, 83.f), cv::Point2f(77.f, 76.f)};
  ExpectNear(ToMtcnnConvention(mirror(skewed)), mirror(ToMtcnnConvention(skewed)));
}

}  // namespace
}  // namespace qf::detect
