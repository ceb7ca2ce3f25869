#include "core/eval/verification_metrics.h"

#include <cmath>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::eval {

absl::StatusOr<VerificationMetrics> ComputeVerificationMetrics(absl::Span<const ScoredPair> pairs,
                                                               const MetricsOptions& options) {
  for (const double far : options.far_targets) {
    if (!(far > 0 && far <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: FAR target ", far, " is outside (0, 1]"));
    }
  }
  VerificationMetrics metrics;
  QF_ASSIGN_OR_RETURN(metrics.roc, ComputeRoc(pairs));  // Also validates scores and classes.
  metrics.num_pairs = static_cast<std::int64_t>(pairs.size());
  metrics.num_same = metrics.roc.num_same;
  metrics.num_different = metrics.roc.num_different;
  metrics.auc = RocAuc(metrics.roc);
  for (const double far : options.far_targets) {
    metrics.tar_at_far.push_back(ComputeTarAtFar(metrics.roc, far));
  }
  if (options.bootstrap.resamples > 0) {
    QF_ASSIGN_OR_RETURN(metrics.tar_intervals,
                        BootstrapTarAtFar(pairs, options.far_targets, options.bootstrap));
  }
  QF_ASSIGN_OR_RETURN(metrics.best, BestAccuracyThreshold(pairs));

  std::map<int, std::vector<ScoredPair>> by_fold;
  for (const ScoredPair& pair : pairs) by_fold[pair.fold].push_back(pair);
  if (by_fold.size() < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics: k-fold accuracy needs at least 2 folds, got ", by_fold.size()));
  }
  for (const auto& [fold, held_out] : by_fold) {
    std::vector<ScoredPair> train;
    train.reserve(pairs.size() - held_out.size());
    for (const ScoredPair& pair : pairs) {
      if (pair.fold != fold) train.push_back(pair);
    }
    QF_ASSIGN_OR_RETURN(const ThresholdChoice choice, BestAccuracyThreshold(train));
    metrics.folds.push_back({fold, static_cast<std::int64_t>(held_out.size()), choice.threshold,
                             AccuracyAt(held_out, choice.threshold)});
  }
  const double k = static_cast<double>(metrics.folds.size());
  double sum = 0;
  for (const FoldResult& f : metrics.folds) sum += f.accuracy;
  metrics.accuracy_mean = sum / k;
  double squares = 0;
  for (const FoldResult& f : metrics.folds) {
    squares += (f.accuracy - metrics.accuracy_mean) * (f.accuracy - metrics.accuracy_mean);
  }
  metrics.accuracy_std = std::sqrt(squares / k);
  metrics.accuracy_std_sample = std::sqrt(squares / (k - 1));
  return metrics;
}

}  // namespace qf::eval
