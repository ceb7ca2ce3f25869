// FaceAligner: five landmarks -> the aligned size x size face crop a model
// expects (qf::nn::InputSpec::size and ::landmark_template).
//
// Contract: Align() fits the least-squares similarity transform from the
// landmarks to the template (see similarity_transform.h) and resamples the
// image with cv::warpAffine, bilinear interpolation, and a constant black
// border where the crop reaches outside the image. The crop has the input's
// type (CV_8UC3, BGR from the Decoder). Landmarks that cannot describe a face
// are rejected with InvalidArgumentError: a non-finite coordinate, points
// that (nearly) coincide, or a point far outside the image. Thread-safe.
#ifndef QUANTFACE_CORE_IMAGE_FACE_ALIGNER_H_
#define QUANTFACE_CORE_IMAGE_FACE_ALIGNER_H_

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "core/image/landmarks.h"
#include "core/nn/input_spec.h"

namespace qf::image {

struct AlignOptions {
  // A landmark may lie outside the image by at most this fraction of the
  // image's larger side (faces cut by the border are still usable; points
  // further out are a detector or client error).
  double max_outside_fraction = 0.5;
  // Minimum root-mean-square distance of the five points from their centroid,
  // in pixels. Below it the face is too small to be meaningful or the points
  // are (nearly) all equal.
  double min_spread_px = 1.0;
};

class FaceAligner {
 public:
  explicit FaceAligner(const nn::InputSpec& spec, AlignOptions options = {});

  // The transform mapping image coordinates to crop coordinates, after the
  // checks above (image_size is the source image's size).
  absl::StatusOr<cv::Matx23d> Transform(const Landmarks5& landmarks, cv::Size image_size) const;

  // The aligned crop. `image` must be a non-empty CV_8UC3 or CV_8UC1 image.
  absl::StatusOr<cv::Mat> Align(const cv::Mat& image, const Landmarks5& landmarks) const;

  int crop_size() const { return size_; }

 private:
  const int size_;
  const Landmarks5 template_;
  const AlignOptions options_;
};

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_FACE_ALIGNER_H_
