#include "core/eval/lfw_verification.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::eval {

absl::StatusOr<LfwVerificationResult> RunLfwVerification(const LfwDataset& dataset,
                                                         const EmbedFn& embed,
                                                         const LfwVerificationOptions& options) {
  if (!embed) return absl::InvalidArgumentError("LFW verification: no embedder");
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat("LFW verification: batch size ", options.batch_size));
  }
  if (dataset.pairs.empty()) return absl::InvalidArgumentError("LFW verification: no pairs");

  // Distinct images in order of first use, and each pair's two row indices.
  std::unordered_map<std::string, std::size_t> row_of;
  std::vector<EmbedItem> items;
  std::vector<std::pair<std::size_t, std::size_t>> pair_rows;
  pair_rows.reserve(dataset.pairs.size());
  const auto row_for = [&](const std::string& name, int number) -> absl::StatusOr<std::size_t> {
    const std::string key = LfwImageKey(name, number);
    const auto found = row_of.find(key);
    if (found != row_of.end()) return found->second;
    EmbedItem item{dataset.ImagePath(name, number), std::nullopt};
    if (options.use_landmarks) {
      const auto landmarks = dataset.landmarks.find(key);
      if (landmarks == dataset.landmarks.end()) {
        return absl::InvalidArgumentError(absl::StrCat("LFW verification: no landmarks for ", key));
      }
      item.landmarks = landmarks->second;
    }
    items.push_back(std::move(item));
    row_of.emplace(key, items.size() - 1);
    return items.size() - 1;
  };
  for (const LfwPair& pair : dataset.pairs) {
    QF_ASSIGN_OR_RETURN(const std::size_t a, row_for(pair.name_a, pair.number_a));
    QF_ASSIGN_OR_RETURN(const std::size_t b, row_for(pair.name_b, pair.number_b));
    pair_rows.emplace_back(a, b);
  }

  LfwVerificationResult result;
  result.num_images = items.size();
  QF_ASSIGN_OR_RETURN(const torch::Tensor embeddings, EmbedItems(items, embed,
                                                                 {.batch_size = options.batch_size,
                                                                  .flip = options.flip,
                                                                  .progress = options.progress}));
  result.embedding_dim = embeddings.size(1);
  const torch::Tensor norms = embeddings.norm(2, 1);
  const auto e = embeddings.accessor<double, 2>();
  const auto norm = norms.accessor<double, 1>();

  result.scores.reserve(dataset.pairs.size());
  for (std::size_t i = 0; i < dataset.pairs.size(); ++i) {
    const auto [a, b] = pair_rows[i];
    if (norm[a] == 0 || norm[b] == 0) {
      return absl::InvalidArgumentError(absl::StrCat("LFW verification: zero embedding for ",
                                                     items[norm[a] == 0 ? a : b].image_path));
    }
    double dot = 0;
    for (std::int64_t d = 0; d < result.embedding_dim; ++d) dot += e[a][d] * e[b][d];
    result.scores.push_back(
        {dot / (norm[a] * norm[b]), dataset.pairs[i].is_same, dataset.pairs[i].fold});
  }
  QF_ASSIGN_OR_RETURN(result.metrics, ComputeVerificationMetrics(result.scores, options.metrics));
  return result;
}

}  // namespace qf::eval
