#include "core/eval/threshold_search.h"

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"

namespace qf::eval {

absl::StatusOr<ThresholdChoice> BestAccuracyThreshold(absl::Span<const ScoredPair> pairs) {
  if (pairs.empty()) return absl::InvalidArgumentError("threshold search: no pairs");
  std::int64_t num_different = 0;
  for (std::size_t i = 0; i < pairs.size(); ++i) {
    if (!std::isfinite(pairs[i].score)) {
      return absl::InvalidArgumentError(
          absl::StrCat("threshold search: pair ", i, " has a non-finite score"));
    }
    if (!pairs[i].is_same) ++num_different;
  }
  std::vector<ScoredPair> sorted(pairs.begin(), pairs.end());
  std::sort(sorted.begin(), sorted.end(),
            [](const ScoredPair& a, const ScoredPair& b) { return a.score > b.score; });
  // Accepting nothing: every different pair is right.
  std::int64_t best_correct = num_different;
  std::size_t best_end = 0;  // Pairs [0, best_end) of `sorted` are accepted.
  std::int64_t correct = num_different;
  for (std::size_t i = 0; i < sorted.size(); ++i) {
    correct += sorted[i].is_same ? 1 : -1;
    if (i + 1 < sorted.size() && sorted[i + 1].score == sorted[i].score) continue;
    if (correct > best_correct) {  // Strictly: ties keep the higher threshold.
      best_correct = correct;
      best_end = i + 1;
    }
  }
  ThresholdChoice choice;
  choice.accuracy = static_cast<double>(best_correct) / static_cast<double>(sorted.size());
  if (best_end == 0) {
    choice.threshold =
        std::nextafter(sorted.front().score, std::numeric_limits<double>::infinity());
  } else if (best_end == sorted.size()) {
    choice.threshold = sorted.back().score;
  } else {
    const double accepted = sorted[best_end - 1].score;
    const double rejected = sorted[best_end].score;
    choice.threshold = rejected + (accepted - rejected) / 2;
    // Adjacent doubles: the midpoint may round onto the rejected score.
    if (!(choice.threshold > rejected)) choice.threshold = accepted;
  }
  return choice;
}

double AccuracyAt(absl::Span<const ScoredPair> pairs, double threshold) {
  if (pairs.empty()) return 0;
  std::int64_t correct = 0;
  for (const ScoredPair& pair : pairs) {
    if ((pair.score >= threshold) == pair.is_same) ++correct;
  }
  return static_cast<double>(correct) / static_cast<double>(pairs.size());
}

}  // namespace qf::eval
