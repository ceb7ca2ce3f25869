// ROC curve and true-accept rate at a fixed false-accept rate.
//
// Threshold convention (see scored_pair.h): "same" iff score >= threshold.
// The curve has one point per distinct score, so tied scores are accepted or
// rejected together, never split: a threshold cannot separate equal scores.
// Points are ordered by decreasing threshold (increasing FAR and TAR). The
// first point accepts nothing (FAR = TAR = 0; its threshold is the next
// double above the highest score); the last accepts everything.
//
// TAR at FAR = f is the highest TAR among the points whose false accepts are
// at most floor(f * num_different): the conservative reading, with no
// interpolation between points. Its threshold is the lowest accepted score at
// that point. A target is "measurable" only when f * num_different >= 1 (with
// 3000 different pairs, 1e-4 is not: the only FAR below it is 0).
#ifndef QUANTFACE_CORE_EVAL_ROC_H_
#define QUANTFACE_CORE_EVAL_ROC_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/eval/scored_pair.h"

namespace qf::eval {

struct RocPoint {
  double threshold = 0;  // Pairs with score >= threshold are accepted.
  double far = 0;        // false_accepts / num_different.
  double tar = 0;        // true_accepts / num_same.
  std::int64_t false_accepts = 0;
  std::int64_t true_accepts = 0;
};

struct RocCurve {
  std::int64_t num_same = 0;
  std::int64_t num_different = 0;
  std::vector<RocPoint> points;
};

// InvalidArgumentError when a score is not finite or either class is absent.
absl::StatusOr<RocCurve> ComputeRoc(absl::Span<const ScoredPair> pairs);

struct TarAtFar {
  double far_target = 0;
  double tar = 0;        // At the chosen point.
  double far = 0;        // Achieved FAR, <= far_target.
  double threshold = 0;  // Accept iff score >= threshold.
  bool measurable = false;
};

TarAtFar ComputeTarAtFar(const RocCurve& roc, double far_target);

// The most false accepts a point may have to count as FAR <= far_target out
// of num_different different pairs: floor(far_target * num_different). The
// one rounding of every TAR@FAR in core/eval (also all_pairs_tar.h).
std::int64_t AllowedFalseAccepts(double far_target, std::int64_t num_different);

// Whether FAR = far_target can be told apart from FAR = 0 with
// num_different different pairs: far_target * num_different >= 1 (up to
// rounding). TarAtFar::measurable, and its twin in all_pairs_tar.h.
bool IsMeasurableFar(double far_target, std::int64_t num_different);

// Area under the curve by the trapezoid rule: equals the probability that a
// random same pair outscores a random different pair, ties counting 1/2.
double RocAuc(const RocCurve& roc);

// At most about `max_points` points of the curve for reports: the first and
// last points, the TAR@FAR=0 point, and the TAR@FAR points of log-spaced FAR
// targets from 1 / num_different to 1 (duplicates dropped).
std::vector<RocPoint> SubsampleRoc(const RocCurve& roc, int max_points);

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_ROC_H_
