#include "core/image/similarity_transform.h"

#include <cmath>
#include <cstddef>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qf::image {

absl::StatusOr<cv::Matx23d> EstimateSimilarityTransform(absl::Span<const cv::Point2f> src,
                                                        absl::Span<const cv::Point2f> dst) {
  if (src.size() != dst.size()) {
    return absl::InvalidArgumentError(absl::StrCat("similarity transform: ", src.size(),
                                                   " source points but ", dst.size(),
                                                   " destination points"));
  }
  if (src.size() < 2) {
    return absl::InvalidArgumentError("similarity transform: needs at least two points");
  }
  const double n = static_cast<double>(src.size());
  cv::Point2d src_mean(0, 0);
  cv::Point2d dst_mean(0, 0);
  for (std::size_t i = 0; i < src.size(); ++i) {
    if (!std::isfinite(src[i].x) || !std::isfinite(src[i].y) || !std::isfinite(dst[i].x) ||
        !std::isfinite(dst[i].y)) {
      return absl::InvalidArgumentError(
          absl::StrCat("similarity transform: point ", i, " has a non-finite coordinate"));
    }
    src_mean += cv::Point2d(src[i]);
    dst_mean += cv::Point2d(dst[i]);
  }
  src_mean /= n;
  dst_mean /= n;
  // With centred points x (source) and y (destination), the model
  // y = [a -b; b a] x is linear in (a, b); the normal equations give
  // a = sum(x . y) / sum|x|^2 and b = sum(x cross y) / sum|x|^2.
  double src_var = 0;
  double dot = 0;
  double cross = 0;
  for (std::size_t i = 0; i < src.size(); ++i) {
    const cv::Point2d x = cv::Point2d(src[i]) - src_mean;
    const cv::Point2d y = cv::Point2d(dst[i]) - dst_mean;
    src_var += x.dot(x);
    dot += x.dot(y);
    cross += x.x * y.y - x.y * y.x;
  }
  // Relative to the coordinates' magnitude, so that the test works for any
  // image scale; an absolute 1e-12 would pass rounding noise for big values.
  const double magnitude = 1.0 + src_mean.dot(src_mean);
  if (src_var <= 1e-12 * magnitude * n) {
    return absl::InvalidArgumentError("similarity transform: the source points all coincide");
  }
  const double a = dot / src_var;
  const double b = cross / src_var;
  const double tx = dst_mean.x - (a * src_mean.x - b * src_mean.y);
  const double ty = dst_mean.y - (b * src_mean.x + a * src_mean.y);
  return cv::Matx23d(a, -b, tx, b, a, ty);
}

cv::Point2d ApplyTransform(const cv::Matx23d& m, const cv::Point2d& p) {
  return {m(0, 0) * p.x + m(0, 1) * p.y + m(0, 2), m(1, 0) * p.x + m(1, 1) * p.y + m(1, 2)};
}

}  // namespace qf::image
