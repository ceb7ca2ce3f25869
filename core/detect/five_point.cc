#include "core/detect/five_point.h"

namespace qf::detect {
namespace {

cv::Point2f Mean(const std::array<cv::Point2f, kIbugPointCount>& points, int first, int count) {
  cv::Point2f sum(0.f, 0.f);
  for (int i = first; i < first + count; ++i) sum += points[i];
  return sum / static_cast<float>(count);
}

}  // namespace

std::array<cv::Point2f, 5> FivePointsFromIbug68(
    const std::array<cv::Point2f, kIbugPointCount>& points) {
  constexpr int kFirstEyeBegin = 36;
  constexpr int kSecondEyeBegin = 42;
  constexpr int kEyeContourPoints = 6;
  constexpr int kNoseTip = 30;
  constexpr int kFirstMouthCorner = 48;
  constexpr int kSecondMouthCorner = 54;
  return {Mean(points, kFirstEyeBegin, kEyeContourPoints),
          Mean(points, kSecondEyeBegin, kEyeContourPoints), points[kNoseTip],
          points[kFirstMouthCorner], points[kSecondMouthCorner]};
}

std::array<cv::Point2f, 5> ToMtcnnConvention(const std::array<cv::Point2f, 5>& points) {
  // iBUG minus MTCNN, per point, in the face frame; x of the left-side points
  // is the mirror of the right side's.
  static constexpr float kEyeInward = 0.0025f, kEyeDown = 0.0248f;
  static constexpr float kNoseDown = -0.0304f;
  static constexpr float kMouthOutward = 0.0056f, kMouthDown = 0.0165f;
  static constexpr float kOffsets[5][2] = {{kEyeInward, kEyeDown},
                                           {-kEyeInward, kEyeDown},
                                           {0.f, kNoseDown},
                                           {-kMouthOutward, kMouthDown},
                                           {kMouthOutward, kMouthDown}};
  // The frame's axes scaled by the inter-ocular distance; y = x turned 90
  // degrees towards the mouth (image y grows downwards).
  const cv::Point2f x_axis = points[1] - points[0];
  const cv::Point2f y_axis(-x_axis.y, x_axis.x);
  std::array<cv::Point2f, 5> result;
  for (size_t i = 0; i < points.size(); ++i) {
    result[i] = points[i] - kOffsets[i][0] * x_axis - kOffsets[i][1] * y_axis;
  }
  return result;
}

}  // namespace qf::detect
