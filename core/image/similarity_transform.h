// Least-squares similarity transform (rotation, uniform scale, translation; no
// reflection, no shear) between two point sets.
//
// Contract: returns the 2x3 matrix M minimising sum_i |M [src_i; 1] - dst_i|^2
// over all similarity transforms, or InvalidArgumentError when the sizes
// differ, fewer than two points are given, a coordinate is not finite, or the
// source points all coincide (no scale or rotation can be recovered).
//
// Why not cv::estimateAffinePartial2D: it runs RANSAC/LMedS and refines, and
// its result depends on a random seed and thresholds; with five trusted points
// the closed-form least-squares solution (Umeyama 1991, which in 2-D reduces
// to a linear problem in a = s*cos(theta), b = s*sin(theta)) is exact,
// deterministic, and what the reference recipes (skimage, dlib) compute.
#ifndef QUANTFACE_CORE_IMAGE_SIMILARITY_TRANSFORM_H_
#define QUANTFACE_CORE_IMAGE_SIMILARITY_TRANSFORM_H_

#include <opencv2/core.hpp>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace qf::image {

absl::StatusOr<cv::Matx23d> EstimateSimilarityTransform(absl::Span<const cv::Point2f> src,
                                                        absl::Span<const cv::Point2f> dst);

// M applied to p.
cv::Point2d ApplyTransform(const cv::Matx23d& m, const cv::Point2d& p);

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_SIMILARITY_TRANSFORM_H_
