#include "core/eval/all_pairs_tar.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <queue>
#include <tuple>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/eval/roc.h"
#include "core/util/status_macros.h"

namespace qf::eval {
namespace {

struct SamePair {
  float score = 0;
  int group = 0;
};

// Sample standard deviation (n - 1); 0 for fewer than two values.
double SampleSd(const std::vector<double>& values) {
  if (values.size() < 2) return 0;
  double mean = 0;
  for (const double v : values) mean += v;
  mean /= static_cast<double>(values.size());
  double squares = 0;
  for (const double v : values) squares += (v - mean) * (v - mean);
  return std::sqrt(squares / static_cast<double>(values.size() - 1));
}

// Rows L2-normalized in float64, then float32 (the precision of the
// embeddings the server stores); InvalidArgumentError for non-finite values
// or a row of norm zero.
absl::StatusOr<torch::Tensor> UnitRows(const torch::Tensor& embeddings) {
  torch::Tensor rows = embeddings.detach().to(torch::kCPU, torch::kFloat64);
  if (!torch::isfinite(rows).all().item<bool>()) {
    return absl::InvalidArgumentError("all pairs: non-finite embedding values");
  }
  const torch::Tensor norms = rows.norm(2, 1);
  const torch::Tensor zero = (norms == 0).nonzero();
  if (zero.size(0) > 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("all pairs: row ", zero[0][0].item<std::int64_t>(), " has norm zero"));
  }
  return (rows / norms.unsqueeze(1)).to(torch::kFloat32).contiguous();
}

// Calls visit(i, j, score) for every pair i < j, in row order, with the
// score of row i of `enrolled` against row j of `probes` (unit rows,
// float32, the same shape; the same tensor for one model). Scores are
// computed a block of rows at a time: the full N x N matrix would need 8
// bytes per different pair where ComputeAllPairsTar keeps 4.
template <typename Visit>
void ForEachPair(const torch::Tensor& enrolled, const torch::Tensor& probes, Visit&& visit) {
  const std::int64_t n = enrolled.size(0);
  constexpr std::int64_t kBlock = 256;
  for (std::int64_t first = 0; first < n; first += kBlock) {
    const std::int64_t last = std::min(n, first + kBlock);
    const torch::Tensor scores = enrolled.slice(0, first, last).matmul(probes.t()).contiguous();
    const auto s = scores.accessor<float, 2>();
    for (std::int64_t i = first; i < last; ++i) {
      for (std::int64_t j = i + 1; j < n; ++j) visit(i, j, s[i - first][j]);
    }
  }
}

absl::Status CheckShapes(const torch::Tensor& embeddings, absl::Span<const int> identity,
                         std::size_t groups) {
  if (!embeddings.defined() || embeddings.dim() != 2 || embeddings.size(0) < 2 ||
      embeddings.size(1) < 1) {
    return absl::InvalidArgumentError("all pairs: embeddings must be N x D with N >= 2");
  }
  const std::int64_t n = embeddings.size(0);
  if (static_cast<std::int64_t>(identity.size()) != n || static_cast<std::int64_t>(groups) != n) {
    return absl::InvalidArgumentError(absl::StrCat("all pairs: ", n, " rows but ", identity.size(),
                                                   " identities and ", groups, " groups"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<PairedTarDifference>> PairedTarDifferences(
    const AllPairsTar& model, const AllPairsTar& reference) {
  if (model.groups != reference.groups || model.group_same != reference.group_same ||
      model.tar_at_far.size() != reference.tar_at_far.size()) {
    return absl::InvalidArgumentError(
        "all pairs: the two results were not scored on the same pairs and FAR targets");
  }
  std::vector<PairedTarDifference> differences;
  for (std::size_t t = 0; t < model.tar_at_far.size(); ++t) {
    const AllPairsTarAtFar& a = model.tar_at_far[t];
    const AllPairsTarAtFar& b = reference.tar_at_far[t];
    if (a.far_target != b.far_target) {
      return absl::InvalidArgumentError(
          absl::StrCat("all pairs: FAR target ", a.far_target, " against ", b.far_target));
    }
    PairedTarDifference difference;
    difference.far_target = a.far_target;
    difference.difference = a.tar - b.tar;
    difference.measurable = a.measurable && b.measurable;
    std::vector<double> per_group;
    for (std::size_t g = 0; g < a.group_tar.size() && g < b.group_tar.size(); ++g) {
      per_group.push_back(a.group_tar[g] - b.group_tar[g]);
    }
    if (!per_group.empty()) {
      difference.standard_error =
          SampleSd(per_group) / std::sqrt(static_cast<double>(per_group.size()));
    }
    differences.push_back(difference);
  }
  return differences;
}

absl::StatusOr<std::vector<ScoredRowPair>> TopDifferentPairs(const torch::Tensor& embeddings,
                                                             absl::Span<const int> identity,
                                                             int count) {
  QF_RETURN_IF_ERROR(CheckShapes(embeddings, identity, identity.size()));
  if (count < 1) {
    return absl::InvalidArgumentError(absl::StrCat("all pairs: top ", count, " pairs"));
  }
  QF_ASSIGN_OR_RETURN(const torch::Tensor rows, UnitRows(embeddings));
  // Ordered by score descending, then row order: the heap's top is the pair
  // to drop first.
  const auto before = [](const ScoredRowPair& a, const ScoredRowPair& b) {
    if (a.score != b.score) return a.score > b.score;
    return std::tie(a.first, a.second) < std::tie(b.first, b.second);
  };
  std::priority_queue<ScoredRowPair, std::vector<ScoredRowPair>, decltype(before)> kept(before);
  ForEachPair(rows, rows, [&](std::int64_t i, std::int64_t j, float score) {
    if (identity[i] == identity[j]) return;
    const ScoredRowPair pair{score, i, j};
    if (static_cast<int>(kept.size()) < count) {
      kept.push(pair);
    } else if (before(pair, kept.top())) {
      kept.pop();
      kept.push(pair);
    }
  });
  std::vector<ScoredRowPair> top;
  while (!kept.empty()) {
    top.push_back(kept.top());
    kept.pop();
  }
  std::reverse(top.begin(), top.end());
  return top;
}

absl::StatusOr<AllPairsTar> ComputeAllPairsTar(const torch::Tensor& embeddings,
                                               absl::Span<const int> identity,
                                               absl::Span<const int> group,
                                               absl::Span<const double> far_targets,
                                               absl::Span<const double> thresholds) {
  return ComputeCrossModelAllPairsTar(embeddings, embeddings, identity, group, far_targets,
                                      thresholds);
}

absl::StatusOr<AllPairsTar> ComputeCrossModelAllPairsTar(const torch::Tensor& enrolled,
                                                         const torch::Tensor& probes,
                                                         absl::Span<const int> identity,
                                                         absl::Span<const int> group,
                                                         absl::Span<const double> far_targets,
                                                         absl::Span<const double> thresholds) {
  QF_RETURN_IF_ERROR(CheckShapes(enrolled, identity, group.size()));
  const bool one_model = probes.is_same(enrolled);
  if (!one_model && (!probes.defined() || probes.sizes() != enrolled.sizes())) {
    return absl::InvalidArgumentError(
        "all pairs: the probe embeddings must have the enrolled embeddings' shape (N x D)");
  }
  const std::int64_t n = enrolled.size(0);
  for (const double target : far_targets) {
    if (!(target > 0 && target <= 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("all pairs: FAR target ", target, " is outside (0, 1]"));
    }
  }
  for (const double threshold : thresholds) {
    if (!std::isfinite(threshold)) {
      return absl::InvalidArgumentError(
          absl::StrCat("all pairs: threshold ", threshold, " is not a finite number"));
    }
  }
  QF_ASSIGN_OR_RETURN(const torch::Tensor enrolled_rows, UnitRows(enrolled));
  torch::Tensor probe_rows = enrolled_rows;
  if (!one_model) {
    QF_ASSIGN_OR_RETURN(probe_rows, UnitRows(probes));
  }

  AllPairsTar result;
  result.num_images = n;
  std::unordered_map<int, int> group_of;
  std::unordered_map<int, std::int64_t> images_of;
  for (std::int64_t i = 0; i < n; ++i) {
    const auto [it, inserted] = group_of.emplace(identity[i], group[i]);
    if (!inserted && it->second != group[i]) {
      return absl::InvalidArgumentError(absl::StrCat(
          "all pairs: identity ", identity[i], " is in groups ", it->second, " and ", group[i]));
    }
    ++images_of[identity[i]];
  }
  result.num_identities = static_cast<std::int64_t>(group_of.size());
  for (const auto& [id, count] : images_of) result.num_same += count * (count - 1) / 2;
  result.num_different = n * (n - 1) / 2 - result.num_same;
  if (result.num_same == 0 || result.num_different == 0) {
    return absl::InvalidArgumentError(absl::StrCat("all pairs: ", result.num_same, " same and ",
                                                   result.num_different,
                                                   " different pairs; both are needed"));
  }

  std::vector<SamePair> same;
  same.reserve(static_cast<std::size_t>(result.num_same));
  std::vector<float> different;
  different.reserve(static_cast<std::size_t>(result.num_different));
  ForEachPair(enrolled_rows, probe_rows, [&](std::int64_t i, std::int64_t j, float score) {
    if (identity[i] == identity[j]) {
      same.push_back({score, group[i]});
    } else {
      different.push_back(score);
    }
  });

  // Over every score (the partial sort below only reorders them).
  for (const double threshold : thresholds) {
    AllPairsRatesAtThreshold rates;
    rates.threshold = threshold;
    for (const float score : different) rates.false_accepts += score >= threshold ? 1 : 0;
    for (const SamePair& pair : same) rates.true_accepts += pair.score >= threshold ? 1 : 0;
    rates.tar = static_cast<double>(rates.true_accepts) / static_cast<double>(result.num_same);
    rates.far =
        static_cast<double>(rates.false_accepts) / static_cast<double>(result.num_different);
    result.at_threshold.push_back(rates);
  }

  // Only the highest different scores decide a threshold at FAR <= target:
  // keep the top (most allowed + 1), sorted descending.
  std::vector<std::int64_t> allowed;
  std::int64_t most_allowed = 0;
  for (const double target : far_targets) {
    allowed.push_back(AllowedFalseAccepts(target, result.num_different));
    most_allowed = std::max(most_allowed, allowed.back());
  }
  const std::int64_t kept = std::min(most_allowed + 1, result.num_different);
  std::nth_element(different.begin(), different.begin() + (kept - 1), different.end(),
                   std::greater<float>());
  std::sort(different.begin(), different.begin() + kept, std::greater<float>());
  float highest = different[0];
  for (const SamePair& pair : same) highest = std::max(highest, pair.score);

  std::map<int, std::int64_t> same_per_group;
  for (const SamePair& pair : same) ++same_per_group[pair.group];
  for (const auto& [g, count] : same_per_group) {
    result.groups.push_back(g);
    result.group_same.push_back(count);
  }

  for (std::size_t t = 0; t < far_targets.size(); ++t) {
    AllPairsTarAtFar point;
    point.far_target = far_targets[t];
    point.measurable = IsMeasurableFar(far_targets[t], result.num_different);
    std::map<int, std::int64_t> accepted_per_group;
    if (allowed[t] >= result.num_different) {  // Accept everything.
      point.false_accepts = result.num_different;
      point.true_accepts = result.num_same;
      accepted_per_group = same_per_group;
      point.threshold = different[static_cast<std::size_t>(kept - 1)];
      for (const SamePair& pair : same)
        point.threshold = std::min<double>(point.threshold, pair.score);
    } else {
      // The (allowed + 1)-th highest different score must be rejected, and
      // with it every score equal to it: accept exactly the scores above it.
      const float cut = different[static_cast<std::size_t>(allowed[t])];
      point.false_accepts = std::partition_point(different.begin(), different.begin() + allowed[t],
                                                 [cut](float score) { return score > cut; }) -
                            different.begin();
      double lowest = std::numeric_limits<double>::infinity();
      if (point.false_accepts > 0) lowest = different[point.false_accepts - 1];
      for (const SamePair& pair : same) {
        if (pair.score > cut) {
          ++point.true_accepts;
          ++accepted_per_group[pair.group];
          lowest = std::min<double>(lowest, pair.score);
        }
      }
      // Nothing accepted: roc.h's first point, just above the highest score.
      point.threshold = std::isinf(lowest) ? std::nextafter(static_cast<double>(highest),
                                                            std::numeric_limits<double>::infinity())
                                           : lowest;
    }
    point.tar = static_cast<double>(point.true_accepts) / static_cast<double>(result.num_same);
    point.far =
        static_cast<double>(point.false_accepts) / static_cast<double>(result.num_different);
    for (std::size_t k = 0; k < result.groups.size(); ++k) {
      point.group_tar.push_back(static_cast<double>(accepted_per_group[result.groups[k]]) /
                                static_cast<double>(result.group_same[k]));
    }
    point.group_tar_sd = SampleSd(point.group_tar);
    point.standard_error =
        point.group_tar_sd / std::sqrt(static_cast<double>(point.group_tar.size()));
    result.tar_at_far.push_back(std::move(point));
  }
  return result;
}

}  // namespace qf::eval
