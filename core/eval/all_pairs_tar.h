// TAR at fixed FARs over every pair of a set of labelled embeddings.
//
// Why: LFW's View 2 protocol has 3,000 different pairs, so its TAR@1e-3 is
// set by the three highest impostor scores and is known to about +-4 points
// (tar_bootstrap.h). Scoring every pair of ~10,000 images instead gives
// tens of millions of impostor pairs: the threshold at FAR 1e-3 then rests on
// tens of thousands of them, and what remains uncertain is the same-person
// side, which this reports as the spread over person-disjoint groups.
//
// Definitions: every unordered pair {i, j}, i != j, is one trial, scored by
// the cosine of rows i and j (rows are L2-normalized here, then multiplied in
// float32, the precision of the embeddings the server stores); it is a same
// pair iff identity[i] == identity[j]. TAR at FAR = f follows roc.h exactly:
// the most same pairs accepted with at most AllowedFalseAccepts(f,
// num_different) different pairs accepted, ties accepted together, "same"
// iff score >= threshold. Each group's TAR is the share of that group's same
// pairs at or above the pooled threshold; their sample standard deviation
// over the groups with same pairs, divided by sqrt(groups), estimates the
// pooled TAR's standard error under resampling of people (a group is a
// random set of people, e.g. one of LFW's ten person-disjoint folds).
//
// Rates at given thresholds (`thresholds`, optional) answer the reverse
// question, for a threshold chosen elsewhere (another protocol's operating
// point, or a client's explicit one): the share of same and of different
// pairs scoring at or above it.
//
// Across two models (ComputeCrossModelAllPairsTar): the same images embedded
// by two models, e.g. a quantized student and its teacher. Pair {i, j},
// i < j, is scored by the cosine of row i of `enrolled` (the model that
// built a gallery) and row j of `probes` (the model that answers queries);
// everything else is as above. It measures whether a gallery enrolled with
// one model keeps working when another serves the probes.
//
// Cost: N^2 / 2 dot products and 4 bytes per different pair (about 220 MB
// for 10,500 images); the same pairs are few and kept as doubles.
//
// Contract: InvalidArgumentError for embeddings that are not N x D with
// N >= 2, identity or group vectors of another length, a row of norm zero or
// a non-finite value, one identity in two groups, no same or no different
// pair, a FAR target outside (0, 1], a non-finite threshold, or (across two
// models) probe embeddings of another shape than the enrolled ones.
#ifndef QUANTFACE_CORE_EVAL_ALL_PAIRS_TAR_H_
#define QUANTFACE_CORE_EVAL_ALL_PAIRS_TAR_H_

#include <torch/torch.h>

#include <cstdint>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace qf::eval {

struct AllPairsTarAtFar {
  double far_target = 0;
  double tar = 0;        // Pooled over every same pair.
  double far = 0;        // Achieved: false_accepts / num_different.
  double threshold = 0;  // Accept iff score >= threshold.
  std::int64_t false_accepts = 0;
  std::int64_t true_accepts = 0;
  bool measurable = false;        // far_target * num_different >= 1, as roc.h.
  std::vector<double> group_tar;  // In the order of AllPairsTar::groups.
  double group_tar_sd = 0;        // Sample standard deviation of group_tar.
  double standard_error = 0;      // group_tar_sd / sqrt(groups).
};

struct AllPairsRatesAtThreshold {
  double threshold = 0;  // Accept iff score >= threshold.
  double tar = 0;
  double far = 0;
  std::int64_t true_accepts = 0;
  std::int64_t false_accepts = 0;
};

struct AllPairsTar {
  std::int64_t num_images = 0;
  std::int64_t num_identities = 0;
  std::int64_t num_same = 0;
  std::int64_t num_different = 0;
  std::vector<int> groups;                             // Groups with same pairs, ascending.
  std::vector<std::int64_t> group_same;                // Same pairs per group.
  std::vector<AllPairsTarAtFar> tar_at_far;            // In the order of the targets.
  std::vector<AllPairsRatesAtThreshold> at_threshold;  // In the order of the thresholds.
};

// The TAR of one model minus another's at one FAR target, both scored on
// the same images (each at its own threshold), with the difference's
// standard error over the groups: the sample standard deviation of the
// per-group differences over sqrt(groups). Paired, because the people
// that make a group hard make it hard for both models, so the difference
// is known far better than either TAR alone.
struct PairedTarDifference {
  double far_target = 0;
  double difference = 0;  // model.tar - reference.tar.
  double standard_error = 0;
  bool measurable = false;  // Both points measurable.
};

// One entry per FAR target of `model`. InvalidArgumentError when the two
// were not scored on the same groups or FAR targets.
absl::StatusOr<std::vector<PairedTarDifference>> PairedTarDifferences(const AllPairsTar& model,
                                                                      const AllPairsTar& reference);

// One pair of rows and its score, as ComputeAllPairsTar scores it.
struct ScoredRowPair {
  double score = 0;
  std::int64_t first = 0;  // Row indices, first < second.
  std::int64_t second = 0;
};

// The `count` highest-scoring different pairs (identity[i] != identity[j]),
// highest first, ties in row order: the impostor pairs that set the
// thresholds at the lowest FARs (a diagnostic of what an operating point
// rests on). InvalidArgumentError as ComputeAllPairsTar for bad embeddings
// or identities, and for count < 1.
absl::StatusOr<std::vector<ScoredRowPair>> TopDifferentPairs(const torch::Tensor& embeddings,
                                                             absl::Span<const int> identity,
                                                             int count);

absl::StatusOr<AllPairsTar> ComputeAllPairsTar(const torch::Tensor& embeddings,
                                               absl::Span<const int> identity,
                                               absl::Span<const int> group,
                                               absl::Span<const double> far_targets,
                                               absl::Span<const double> thresholds = {});

absl::StatusOr<AllPairsTar> ComputeCrossModelAllPairsTar(const torch::Tensor& enrolled,
                                                         const torch::Tensor& probes,
                                                         absl::Span<const int> identity,
                                                         absl::Span<const int> group,
                                                         absl::Span<const double> far_targets,
                                                         absl::Span<const double> thresholds = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_ALL_PAIRS_TAR_H_
