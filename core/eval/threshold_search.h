// The accuracy-maximising threshold of a set of scored pairs, and the
// accuracy of a given threshold.
//
// Convention: "same" iff score >= threshold. Only thresholds that separate
// distinct scores are considered (ties move together). When several splits
// reach the best accuracy, the one with the highest threshold wins (fewest
// false accepts). The returned threshold lies midway between the lowest
// accepted score and the highest rejected one, so that it generalises to
// unseen pairs without favouring either side; when every pair is accepted it
// is the lowest score, when none is, the next double above the highest.
#ifndef QUANTFACE_CORE_EVAL_THRESHOLD_SEARCH_H_
#define QUANTFACE_CORE_EVAL_THRESHOLD_SEARCH_H_

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/eval/scored_pair.h"

namespace qf::eval {

struct ThresholdChoice {
  double threshold = 0;
  double accuracy = 0;  // On the pairs the threshold was chosen from.
};

// InvalidArgumentError when `pairs` is empty or holds a non-finite score.
absl::StatusOr<ThresholdChoice> BestAccuracyThreshold(absl::Span<const ScoredPair> pairs);

// Fraction of pairs classified correctly with "same" iff score >= threshold;
// 0 for no pairs.
double AccuracyAt(absl::Span<const ScoredPair> pairs, double threshold);

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_THRESHOLD_SEARCH_H_
