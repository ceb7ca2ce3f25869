#include "core/eval/embed_items.h"

#include <algorithm>
#include <cstdint>
#include <exception>
#include <utility>
#include <vector>

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

absl::StatusOr<torch::Tensor> EmbedItems(absl::Span<const EmbedItem> items, const EmbedFn& embed,
                                         const EmbedItemsOptions& options) {
  if (!embed) return absl::InvalidArgumentError("embedding: no embedder");
  if (items.empty()) return absl::InvalidArgumentError("embedding: no images");
  if (options.batch_size < 1) {
    return absl::InvalidArgumentError(absl::StrCat("embedding: batch size ", options.batch_size));
  }
  std::vector<torch::Tensor> batches;
  std::int64_t dim = 0;
  const auto batch = static_cast<std::size_t>(options.batch_size);
  for (std::size_t start = 0; start < items.size(); start += batch) {
    if (options.should_stop && options.should_stop()) {
      return absl::CancelledError(
          absl::StrCat("embedding cancelled after ", start, " of ", items.size(), " images"));
    }
    const std::size_t count = std::min(batch, items.size() - start);
    QF_ASSIGN_OR_RETURN(torch::Tensor rows,
                        EmbedBatch(embed, items.subspan(start, count), options.flip, dim));
    dim = rows.size(1);
    batches.push_back(std::move(rows));
    if (options.progress) options.progress(start + count, items.size());
  }
  return torch::cat(batches, 0);
}

}  // namespace qf::eval
