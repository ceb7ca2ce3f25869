// VerificationMetrics: everything a 1:1 face-verification benchmark reports,
// computed from scored pairs.
//
// - k-fold accuracy, the official LFW protocol: for each fold, the
//   best-accuracy threshold is chosen on the other folds (threshold_search.h)
//   and applied to the held-out fold. accuracy_std is the POPULATION standard
//   deviation of the per-fold accuracies (divide by k, numpy's default
//   np.std), which the reference Python port used; accuracy_std_sample
//   (divide by k - 1) is given too.
// - ROC over all pairs, its AUC, and TAR at each requested FAR over all pairs
//   (roc.h: conservative, no interpolation; "measurable" flags targets below
//   1 / num_different).
// - A bootstrap confidence interval of each TAR@FAR (tar_bootstrap.h), unless
//   MetricsOptions.bootstrap.resamples is 0.
// - The best-accuracy threshold over all pairs (what a deployment would use
//   when it wants maximum accuracy rather than a fixed FAR).
// All thresholds follow "same" iff score >= threshold.
#ifndef QUANTFACE_CORE_EVAL_VERIFICATION_METRICS_H_
#define QUANTFACE_CORE_EVAL_VERIFICATION_METRICS_H_

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/eval/roc.h"
#include "core/eval/scored_pair.h"
#include "core/eval/tar_bootstrap.h"
#include "core/eval/threshold_search.h"

namespace qf::eval {

struct MetricsOptions {
  std::vector<double> far_targets = {1e-2, 1e-3, 1e-4};
  // resamples = 0: no intervals (tar_intervals stays empty).
  BootstrapOptions bootstrap;
};

struct FoldResult {
  int fold = 0;
  std::int64_t num_pairs = 0;
  double threshold = 0;  // Chosen on the other folds.
  double accuracy = 0;   // On this fold.
};

struct VerificationMetrics {
  std::int64_t num_pairs = 0;
  std::int64_t num_same = 0;
  std::int64_t num_different = 0;

  std::vector<FoldResult> folds;  // In increasing fold id.
  double accuracy_mean = 0;
  double accuracy_std = 0;  // Population (ddof = 0), see above.
  double accuracy_std_sample = 0;

  ThresholdChoice best;  // Over all pairs.
  RocCurve roc;          // Over all pairs.
  double auc = 0;
  std::vector<TarAtFar> tar_at_far;  // In the order of MetricsOptions.
  // tar_at_far[i]'s bootstrap interval, or empty (see MetricsOptions).
  std::vector<TarInterval> tar_intervals;
};

// InvalidArgumentError when a score is not finite, a class is absent, fewer
// than two folds are present, a far target is outside (0, 1], or the
// bootstrap options are invalid (tar_bootstrap.h).
absl::StatusOr<VerificationMetrics> ComputeVerificationMetrics(absl::Span<const ScoredPair> pairs,
                                                               const MetricsOptions& options = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_VERIFICATION_METRICS_H_
