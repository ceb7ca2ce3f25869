#include "core/image/face_aligner.h"

#include <cmath>
#include <limits>
#include <vector>

#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "core/image/similarity_transform.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace qf::image {
namespace {

using ::testing::HasSubstr;

nn::InputSpec ArcFaceSpec() {
  nn::InputSpec spec;
  spec.size = 112;
  spec.landmark_template = nn::ArcFaceTemplate(112);
  return spec;
}

// Five landmarks in a 240x200 "photo": the ArcFace template rotated by 25
// degrees, scaled by 1.6 and moved, so alignment has real work to undo.
Landmarks5 PhotoLandmarks() {
  const nn::LandmarkTemplate t = nn::ArcFaceTemplate(112);
  const double angle = 25.0 * M_PI / 180.0;
  const double s = 1.6;
  Landmarks5 points;
  for (std::size_t i = 0; i < points.size(); ++i) {
    const double x = t.points[i][0] - 56;
    const double y = t.points[i][1] - 56;
    points[i] =
        cv::Point2f(static_cast<float>(120 + s * (std::cos(angle) * x - std::sin(angle) * y)),
                    static_cast<float>(95 + s * (std::sin(angle) * x + std::cos(angle) * y)));
  }
  return points;
}

// A grey image with one coloured Gaussian blob per landmark (blue, green,
// red, cyan, magenta), whose intensity-weighted centroid is the landmark.
cv::Mat BlobImage(const Landmarks5& landmarks, cv::Size size) {
  const std::vector<cv::Vec3f> colours = {
      {255, 0, 0}, {0, 255, 0}, {0, 0, 255}, {255, 255, 0}, {255, 0, 255}};
  cv::Mat image(size, CV_32FC3, cv::Scalar::all(0));
  for (int y = 0; y < size.height; ++y) {
    for (int x = 0; x < size.width; ++x) {
      for (std::size_t i = 0; i < landmarks.size(); ++i) {
        const double dx = x - landmarks[i].x;
        const double dy = y - landmarks[i].y;
        const float w = static_cast<float>(std::exp(-(dx * dx + dy * dy) / (2 * 3.0 * 3.0)));
        image.at<cv::Vec3f>(y, x) += colours[i] * w;
      }
    }
  }
  cv::Mat out;
  image.convertTo(out, CV_8UC3);
  return out;
}

// Centroid of the pixels whose colour is (nearly) the pure colour of blob i.
cv::Point2d BlobCentroid(const cv::Mat& crop, std::size_t i) {
  const std::vector<cv::Vec3i> signs = {
      {1, -1, -1}, {-1, 1, -1}, {-1, -1, 1}, {1, 1, -1}, {1, -1, 1}};
  double sx = 0, sy = 0, sw = 0;
  for (int y = 0; y < crop.rows; ++y) {
    for (int x = 0; x < crop.cols; ++x) {
      const cv::Vec3b p = crop.at<cv::Vec3b>(y, x);
      // Weight: the smallest "on" channel, provided the "off" channels are
      // dark (blobs are far apart, so they do not overlap).
      double on = 255, off = 0;
      for (int c = 0; c < 3; ++c) {
        if (signs[i][c] > 0)
          on = std::min(on, static_cast<double>(p[c]));
        else
          off = std::max(off, static_cast<double>(p[c]));
      }
      if (off > 2 || on < 8) continue;
      sx += on * x;
      sy += on * y;
      sw += on;
    }
  }
  return {sx / sw, sy / sw};
}

TEST(FaceAlignerTest, TransformMapsLandmarksOntoTemplate) {
  const nn::InputSpec spec = ArcFaceSpec();
  const FaceAligner aligner(spec);
  const absl::StatusOr<cv::Matx23d> m = aligner.Transform(PhotoLandmarks(), cv::Size(240, 200));
  ASSERT_TRUE(m.ok()) << m.status();
  for (std::size_t i = 0; i < 5; ++i) {
    const cv::Point2d p = ApplyTransform(*m, cv::Point2d(PhotoLandmarks()[i]));
    EXPECT_NEAR(p.x, spec.landmark_template.points[i][0], 1e-3);
    EXPECT_NEAR(p.y, spec.landmark_template.points[i][1], 1e-3);
  }
}

TEST(FaceAlignerTest, WarpedBlobsLandOnTemplatePoints) {
  const nn::InputSpec spec = ArcFaceSpec();
  const Landmarks5 landmarks = PhotoLandmarks();
  const cv::Mat image = BlobImage(landmarks, cv::Size(240, 200));
  const absl::StatusOr<cv::Mat> crop = FaceAligner(spec).Align(image, landmarks);
  ASSERT_TRUE(crop.ok()) << crop.status();
  EXPECT_EQ(crop->size(), cv::Size(112, 112));
  EXPECT_EQ(crop->type(), CV_8UC3);
  for (std::size_t i = 0; i < 5; ++i) {
    const cv::Point2d c = BlobCentroid(*crop, i);
    EXPECT_NEAR(c.x, spec.landmark_template.points[i][0], 0.25) << "blob " << i;
    EXPECT_NEAR(c.y, spec.landmark_template.points[i][1], 0.25) << "blob " << i;
  }
}

TEST(FaceAlignerTest, CropOutsideImageIsBlack) {
  // Face at the image's top-left corner: the crop's top-left lies outside.
  Landmarks5 landmarks = PhotoLandmarks();
  for (cv::Point2f& p : landmarks) p -= cv::Point2f(80, 60);
  const cv::Mat white(200, 240, CV_8UC3, cv::Scalar::all(255));
  const absl::StatusOr<cv::Mat> crop = FaceAligner(ArcFaceSpec()).Align(white, landmarks);
  ASSERT_TRUE(crop.ok()) << crop.status();
  EXPECT_EQ(crop->at<cv::Vec3b>(0, 0), cv::Vec3b(0, 0, 0));
  EXPECT_EQ(crop->at<cv::Vec3b>(111, 111), cv::Vec3b(255, 255, 255));
}

TEST(FaceAlignerTest, UsesTheSpecsSizeAndTemplate) {
  nn::InputSpec spec;
  spec.size = 224;
  spec.landmark_template = nn::ArcFaceTemplate(224);
  const cv::Mat image(200, 240, CV_8UC3, cv::Scalar::all(9));
  const absl::StatusOr<cv::Mat> crop = FaceAligner(spec).Align(image, PhotoLandmarks());
  ASSERT_TRUE(crop.ok()) << crop.status();
  EXPECT_EQ(crop->size(), cv::Size(224, 224));
}

TEST(FaceAlignerTest, RejectsDegenerateLandmarks) {
  const FaceAligner aligner(ArcFaceSpec());
  const cv::Mat image(200, 240, CV_8UC3, cv::Scalar::all(0));

  Landmarks5 nan = PhotoLandmarks();
  nan[3].x = std::numeric_limits<float>::quiet_NaN();
  absl::StatusOr<cv::Mat> crop = aligner.Align(image, nan);
  EXPECT_EQ(crop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(crop.status().message(), HasSubstr("landmark 3 has a non-finite coordinate"));

  Landmarks5 equal;
  equal.fill(cv::Point2f(50, 60));
  crop = aligner.Align(image, equal);
  EXPECT_EQ(crop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(crop.status().message(), HasSubstr("degenerate"));

  Landmarks5 far = PhotoLandmarks();
  far[1] = cv::Point2f(1000, 50);
  crop = aligner.Align(image, far);
  EXPECT_EQ(crop.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(crop.status().message(), HasSubstr("far outside"));

  EXPECT_EQ(aligner.Align(cv::Mat(), PhotoLandmarks()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(aligner.Align(cv::Mat(200, 240, CV_32FC3), PhotoLandmarks()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::image
