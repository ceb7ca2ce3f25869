// EmbedItems: the embedding loop of the LFW protocols (lfw_verification.h,
// lfw_all_pairs.h), independent of the model.
//
// The EmbedFn is the caller's: it decodes, aligns and runs the model. It gets
// absolute image paths with five landmarks (or none: the caller then detects
// faces itself) and the flip flag, and must return a float tensor with one
// row per item, each row L2-normalized (with flip: the normalized sum of the
// embeddings of the crop and its mirror).
//
// Contract: items are embedded in order, in batches of batch_size (the last
// may be smaller), and the result is an N x D float64 CPU tensor with the
// rows in the order of `items`. Every batch's answer is checked for shape
// (N x D, D the same for every batch) and finiteness. Errors, from the
// EmbedFn's status or an exception it throws, are returned with the failing
// batch's first path; InvalidArgumentError for no items or batch_size < 1.
#ifndef QUANTFACE_CORE_EVAL_EMBED_ITEMS_H_
#define QUANTFACE_CORE_EVAL_EMBED_ITEMS_H_

#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/image/landmarks.h"

namespace qf::eval {

struct EmbedItem {
  std::string image_path;
  std::optional<image::Landmarks5> landmarks;
};

using EmbedFn =
    std::function<absl::StatusOr<torch::Tensor>(absl::Span<const EmbedItem> items, bool flip)>;

struct EmbedItemsOptions {
  int batch_size = 32;
  bool flip = false;  // Passed to the EmbedFn.
  // Called after each batch with (items embedded so far, total); optional.
  std::function<void(std::size_t done, std::size_t total)> progress;
  // Polled before each batch; true ends the loop with CancelledError. (Its
  // initializer keeps designated initializers that omit it warning-free.)
  std::function<bool()> should_stop{};
};

absl::StatusOr<torch::Tensor> EmbedItems(absl::Span<const EmbedItem> items, const EmbedFn& embed,
                                         const EmbedItemsOptions& options = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_EMBED_ITEMS_H_
