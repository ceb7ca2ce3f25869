#include "core/image/face_aligner.h"

#include <algorithm>
#include <cmath>
#include <cstddef>

#include <opencv2/imgproc.hpp>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/image/similarity_transform.h"

namespace qf::image {
namespace {

Landmarks5 ToLandmarks(const nn::LandmarkTemplate& t) {
  Landmarks5 points;
  for (std::size_t i = 0; i < points.size(); ++i) {
    points[i] = cv::Point2f(t.points[i][0], t.points[i][1]);
  }
  return points;
}

}  // namespace

FaceAligner::FaceAligner(const nn::InputSpec& spec, AlignOptions options)
    : size_(spec.size), template_(ToLandmarks(spec.landmark_template)), options_(options) {}

absl::StatusOr<cv::Matx23d> FaceAligner::Transform(const Landmarks5& landmarks,
                                                   cv::Size image_size) const {
  if (size_ <= 0) {
    return absl::FailedPreconditionError(absl::StrCat("align: crop size ", size_));
  }
  cv::Point2d centroid(0, 0);
  for (std::size_t i = 0; i < landmarks.size(); ++i) {
    const cv::Point2f& p = landmarks[i];
    if (!std::isfinite(p.x) || !std::isfinite(p.y)) {
      return absl::InvalidArgumentError(
          absl::StrCat("align: landmark ", i, " has a non-finite coordinate"));
    }
    const double margin =
        options_.max_outside_fraction * std::max(image_size.width, image_size.height);
    if (p.x < -margin || p.y < -margin || p.x > image_size.width - 1 + margin ||
        p.y > image_size.height - 1 + margin) {
      return absl::InvalidArgumentError(absl::StrCat("align: landmark ", i, " (", p.x, ", ", p.y,
                                                     ") lies far outside the ", image_size.width,
                                                     "x", image_size.height, " image"));
    }
    centroid += cv::Point2d(p);
  }
  centroid /= static_cast<double>(landmarks.size());
  double spread = 0;
  for (const cv::Point2f& p : landmarks) {
    const cv::Point2d d = cv::Point2d(p) - centroid;
    spread += d.dot(d);
  }
  spread = std::sqrt(spread / static_cast<double>(landmarks.size()));
  if (spread < options_.min_spread_px) {
    return absl::InvalidArgumentError(
        absl::StrCat("align: degenerate landmarks: the points lie within ", spread,
                     " px of their centroid (minimum ", options_.min_spread_px, " px)"));
  }
  return EstimateSimilarityTransform(landmarks, template_);
}

absl::StatusOr<cv::Mat> FaceAligner::Align(const cv::Mat& image,
                                           const Landmarks5& landmarks) const {
  if (image.empty()) return absl::InvalidArgumentError("align: empty image");
  if (image.type() != CV_8UC3 && image.type() != CV_8UC1) {
    return absl::InvalidArgumentError(
        absl::StrCat("align: expected an 8-bit BGR or grey image, got OpenCV type ", image.type()));
  }
  const absl::StatusOr<cv::Matx23d> transform = Transform(landmarks, image.size());
  if (!transform.ok()) return transform.status();
  cv::Mat crop;
  try {
    cv::warpAffine(image, crop, cv::Mat(*transform), cv::Size(size_, size_), cv::INTER_LINEAR,
                   cv::BORDER_CONSTANT, cv::Scalar::all(0));
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("align: OpenCV warpAffine: ", e.what()));
  }
  return crop;
}

}  // namespace qf::image
