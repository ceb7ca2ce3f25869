#include "core/detect/face_selection.h"

#include <gtest/gtest.h>

namespace qf::detect {
namespace {

DetectedFace FaceAt(float x, float y, float size) {
  DetectedFace face;
  face.box = cv::Rect2f(x, y, size, size);
  return face;
}

TEST(MostCentralFaceTest, EmptyListHasNoFace) {
  EXPECT_FALSE(MostCentralFace({}, cv::Size(150, 150)).has_value());
}

TEST(MostCentralFaceTest, PrefersCentredFaceOverLargerOffCentreOne) {
  // Largest first, as detectors return them: a big face at the left edge and
  // a smaller one centred on (75, 75).
  const std::vector<DetectedFace> faces = {FaceAt(-20.f, 30.f, 90.f), FaceAt(45.f, 45.f, 60.f)};
  EXPECT_EQ(MostCentralFace(faces, cv::Size(150, 150)), 1u);
}

TEST(MostCentralFaceTest, UsesBoxCentreNotCorner) {
  // Top-left corners: the first is nearer the image centre (100, 50), but
  // the second's centre (100, 50) is exactly on it.
  const std::vector<DetectedFace> faces = {FaceAt(95.f, 45.f, 40.f), FaceAt(60.f, 10.f, 80.f)};
  EXPECT_EQ(MostCentralFace(faces, cv::Size(200, 100)), 1u);
}

}  // namespace
}  // namespace qf::detect
