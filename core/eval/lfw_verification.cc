#include "core/eval/lfw_verification.h"

#include <algorithm>
#include <cmath>
#include <exception>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::eval {
namespace {

// Calls the EmbedFn and checks its answer; exceptions from caller code stop
// here, as core APIs report errors as statuses.
absl::StatusOr<torch::Tensor> EmbedBatch(const EmbedFn& embed, absl::Span<const EmbedItem> items,
                                         bool flip, std::int64_t expected_dim) {
  const std::string where = absl::StrCat("embedding the batch starting at ", items[0].image_path);
  try {
    const absl::StatusOr<torch::Tensor> result = embed(items, flip);
    if (!result.ok()) {
      return absl::Status(result.status().code(),
                          absl::StrCat(where, ": ", result.status().message()));
    }
    torch::Tensor rows = *result;
    const auto n = static_cast<std::int64_t>(items.size());
    if (!rows.defined() || rows.dim() != 2 || rows.size(0) != n || rows.size(1) < 1) {
      return absl::InvalidArgumentError(absl::StrCat(
          where, ": the embedder must return an N x D tensor with N = ", n, ", got ",
          rows.defined() ? c10::str(rows.sizes()) : std::string("an undefined tensor")));
    }
    if (expected_dim > 0 && rows.size(1) != expected_dim) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": embedding dimension ", rows.size(1),
                                                     " differs from earlier ", expected_dim));
    }
    rows = rows.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    if (!torch::isfinite(rows).all().item<bool>()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": non-finite embedding values"));
    }
    return rows;
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat(where, ": ", e.what()));
  }
}

}  // namespace

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
  std::vector<torch::Tensor> batches;
  const auto batch = static_cast<std::size_t>(options.batch_size);
  for (std::size_t start = 0; start < items.size(); start += batch) {
    const std::size_t count = std::min(batch, items.size() - start);
    QF_ASSIGN_OR_RETURN(torch::Tensor rows,
                        EmbedBatch(embed, absl::MakeConstSpan(items).subspan(start, count),
                                   options.flip, result.embedding_dim));
    result.embedding_dim = rows.size(1);
    batches.push_back(std::move(rows));
    if (options.progress) options.progress(start + count, items.size());
  }
  const torch::Tensor embeddings = torch::cat(batches, 0);
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
