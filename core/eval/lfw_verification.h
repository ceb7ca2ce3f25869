// RunLfwVerification: the LFW verification benchmark for any embedding
// model, without knowing the model.
//
// Contract: every image used by the dataset's pairs is embedded exactly once
// (cached by path, in batches of options.batch_size, in order of first use),
// each pair is scored by the cosine of its two embeddings, and the metrics of
// verification_metrics.h are computed over the pairs with their folds.
// The EmbedFn is the caller's: it decodes, aligns and runs the model. It gets
// absolute image paths with the dataset's five landmarks (or none, when
// options.use_landmarks is false: the caller detects faces itself) and the
// flip flag, and must return a float tensor with one row per item, each row
// L2-normalized (with flip: the normalized sum of the embeddings of the crop
// and its mirror). Rows are checked for shape and finiteness; scores are
// computed as full cosines, so slightly unnormalized rows do no harm. Any
// error from the EmbedFn is returned with the failing batch's first path.
#ifndef QUANTFACE_CORE_EVAL_LFW_VERIFICATION_H_
#define QUANTFACE_CORE_EVAL_LFW_VERIFICATION_H_

#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/eval/embed_items.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/scored_pair.h"
#include "core/eval/verification_metrics.h"
#include "core/image/landmarks.h"

namespace qf::eval {

struct LfwVerificationOptions {
  int batch_size = 32;
  bool flip = false;          // Passed to the EmbedFn.
  bool use_landmarks = true;  // Pass the dataset's landmarks (else none).
  MetricsOptions metrics;
  // Called after each batch with (images embedded so far, total); optional.
  std::function<void(std::size_t done, std::size_t total)> progress;
};

struct LfwVerificationResult {
  std::vector<ScoredPair> scores;  // In the order of dataset.pairs.
  VerificationMetrics metrics;
  std::size_t num_images = 0;  // Distinct images embedded.
  std::int64_t embedding_dim = 0;
};

absl::StatusOr<LfwVerificationResult> RunLfwVerification(
    const LfwDataset& dataset, const EmbedFn& embed, const LfwVerificationOptions& options = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_LFW_VERIFICATION_H_
