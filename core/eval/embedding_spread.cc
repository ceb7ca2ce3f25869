#include "core/eval/embedding_spread.h"

#include "absl/strings/str_cat.h"

namespace qf::eval {

absl::StatusOr<double> MeanPairwiseCosine(const torch::Tensor& embeddings) {
  if (embeddings.dim() != 2 || embeddings.size(0) < 2) {
    return absl::InvalidArgumentError(
        absl::StrCat("the mean pairwise cosine needs an N x D matrix with N >= 2, got sizes ",
                     c10::str(embeddings.sizes())));
  }
  torch::NoGradGuard no_grad;
  const torch::Tensor rows = embeddings.detach().to(torch::kCPU, torch::kDouble);
  const torch::Tensor norms = rows.norm(2, /*dim=*/1, /*keepdim=*/true);
  if ((norms == 0).any().item<bool>()) {
    return absl::InvalidArgumentError("the mean pairwise cosine of a zero embedding is undefined");
  }
  const double n = static_cast<double>(rows.size(0));
  const double sum_squared = (rows / norms).sum(0).square().sum().item<double>();
  return (sum_squared - n) / (n * (n - 1));
}

}  // namespace qf::eval
