#include "core/eval/roc.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <limits>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qf::eval {
std::int64_t AllowedFalseAccepts(double far_target, std::int64_t num_different) {
  // The small relative slack keeps e.g. 1e-3 * 3000 = 3 from rounding down
  // to 2.
  return static_cast<std::int64_t>(
      std::floor(far_target * static_cast<double>(num_different) * (1 + 1e-9)));
}

bool IsMeasurableFar(double far_target, std::int64_t num_different) {
  return far_target * static_cast<double>(num_different) >= 1 - 1e-9;
}

absl::StatusOr<RocCurve> ComputeRoc(absl::Span<const ScoredPair> pairs) {
  RocCurve roc;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (!std::isfinite(pairs[i].score)) {
      return absl::InvalidArgumentError(absl::StrCat("ROC: pair ", i, " has a non-finite score"));
    }
    ++(pairs[i].is_same ? roc.num_same : roc.num_different);
  }
  if (roc.num_same == 0 || roc.num_different == 0) {
    return absl::InvalidArgumentError(absl::StrCat("ROC: needs both same and different pairs; got ",
                                                   roc.num_same, " same and ", roc.num_different,
                                                   " different"));
  }
  std::vector<ScoredPair> sorted(pairs.begin(), pairs.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const ScoredPair& a, const ScoredPair& b) { return a.score > b.score; });
  const double same = static_cast<double>(roc.num_same);
  const double different = static_cast<double>(roc.num_different);
  roc.points.reserve(sorted.size() + 1);
  roc.points.push_back(
      {std::nextafter(sorted.front().score, std::numeric_limits<double>::infinity()), 0, 0, 0, 0});
  RocPoint point;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    ++(sorted[i].is_same ? point.true_accepts : point.false_accepts);
    // Emit once per distinct score, after its whole tie group.
    if (i + 1 < sorted.size() && sorted[i + 1].score == sorted[i].score) continue;
    point.threshold = sorted[i].score;
    point.far = static_cast<double>(point.false_accepts) / different;
    point.tar = static_cast<double>(point.true_accepts) / same;
    roc.points.push_back(point);
  }
  return roc;
}

TarAtFar ComputeTarAtFar(const RocCurve& roc, double far_target) {
  TarAtFar result;
  result.far_target = far_target;
  result.measurable = IsMeasurableFar(far_target, roc.num_different);
  const std::int64_t allowed = AllowedFalseAccepts(far_target, roc.num_different);
  // False accepts grow along the curve: the last point within the budget has
  // the highest TAR.
  for (const RocPoint& point : roc.points) {
    if (point.false_accepts > allowed) break;
    result.tar = point.tar;
    result.far = point.far;
    result.threshold = point.threshold;
  }
  return result;
}

double RocAuc(const RocCurve& roc) {
  double area = 0;
  for (std::size_t i = 1; i < roc.points.size(); ++i) {
    const RocPoint& a = roc.points[i - 1];
    const RocPoint& b = roc.points[i];
    area += (b.far - a.far) * (a.tar + b.tar) / 2;
  }
  return area;
}

std::vector<RocPoint> SubsampleRoc(const RocCurve& roc, int max_points) {
  if (roc.points.empty()) return {};
  if (max_points < 2 || static_cast<std::size_t>(max_points) >= roc.points.size()) {
    return roc.points;
  }
  std::vector<RocPoint> out = {roc.points.front()};
  // Log-spaced FAR targets from the smallest non-zero FAR (1 / num_different)
  // up to 1.
  const double low = std::log10(1.0 / static_cast<double>(roc.num_different));
  const int steps = max_points - 2;
  std::size_t next = 1;  // Index of the next candidate point.
  // s = -1 stands for FAR = 0: the highest TAR without any false accept.
  for (int s = -1; s <= steps; ++s) {
    const double target = s < 0 ? 0.0 : std::pow(10.0, low - low * s / std::max(steps, 1));
    const std::int64_t allowed = AllowedFalseAccepts(target, roc.num_different);
    std::size_t best = 0;
    while (next < roc.points.size() && roc.points[next].false_accepts <= allowed) best = next++;
    if (best != 0) out.push_back(roc.points[best]);
  }
  if (out.back().threshold != roc.points.back().threshold) out.push_back(roc.points.back());
  return out;
}

}  // namespace qf::eval
