#include "core/eval/tar_bootstrap.h"

#include <algorithm>
#include <cmath>
#include <random>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/eval/roc.h"
#include "core/util/status_macros.h"

namespace qf::eval {
namespace {

// The q-th quantile of sorted values, interpolating linearly between order
// statistics (numpy's default).
double Quantile(const std::vector<double>& sorted, double q) {
  const double position = q * static_cast<double>(sorted.size() - 1);
  const auto below = static_cast<std::size_t>(std::floor(position));
  const std::size_t above = std::min(below + 1, sorted.size() - 1);
  const double fraction = position - static_cast<double>(below);
  return sorted[below] + fraction * (sorted[above] - sorted[below]);
}

}  // namespace

absl::StatusOr<std::vector<TarInterval>> BootstrapTarAtFar(absl::Span<const ScoredPair> pairs,
                                                           absl::Span<const double> far_targets,
                                                           const BootstrapOptions& options) {
  if (options.resamples < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: needs at least 1 resample, got ", options.resamples));
  }
  if (!(options.confidence > 0 && options.confidence < 1)) {
    return absl::InvalidArgumentError(
        absl::StrCat("bootstrap: confidence ", options.confidence, " is outside (0, 1)"));
  }
  for (const double far : far_targets) {
    if (!(far > 0 && far <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("bootstrap: FAR target ", far, " is outside (0, 1]"));
    }
  }
  // Validates the scores and that both classes are present.
  QF_RETURN_IF_ERROR(ComputeRoc(pairs).status());
  std::vector<ScoredPair> same;
  std::vector<ScoredPair> different;
  for (const ScoredPair& pair : pairs) (pair.is_same ? same : different).push_back(pair);

  std::mt19937_64 random(options.seed);
  std::uniform_int_distribution<std::size_t> pick_same(0, same.size() - 1);
  std::uniform_int_distribution<std::size_t> pick_different(0, different.size() - 1);
  std::vector<std::vector<double>> tars(far_targets.size());
  for (std::vector<double>& t : tars) t.reserve(static_cast<std::size_t>(options.resamples));
  std::vector<ScoredPair> resample(pairs.size());
  for (int r = 0; r < options.resamples; ++r) {
    for (std::size_t i = 0; i < same.size(); ++i) resample[i] = same[pick_same(random)];
    for (std::size_t i = 0; i < different.size(); ++i) {
      resample[same.size() + i] = different[pick_different(random)];
    }
    QF_ASSIGN_OR_RETURN(const RocCurve roc, ComputeRoc(resample));
    for (std::size_t k = 0; k < far_targets.size(); ++k) {
      tars[k].push_back(ComputeTarAtFar(roc, far_targets[k]).tar);
    }
  }
  std::vector<TarInterval> intervals;
  const double tail = (1 - options.confidence) / 2;
  for (std::size_t k = 0; k < far_targets.size(); ++k) {
    std::sort(tars[k].begin(), tars[k].end());
    intervals.push_back({far_targets[k], Quantile(tars[k], tail), Quantile(tars[k], 1 - tail),
                         options.confidence, options.resamples});
  }
  return intervals;
}

}  // namespace qf::eval
