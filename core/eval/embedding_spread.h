// How far apart a model places a set of faces: the mean cosine between the
// embeddings of distinct images. Near 1 the model sees them all as one
// identity; real people are far apart (faceres: 0.37 over LFW's 7,701 View 2
// images; dlib-resnet: 0.84). A student distilled on synthetic faces learns
// the teacher only where those faces lie, so their spread is worth setting
// next to that of the real faces it will serve (docs/BENCHMARKS.md).
#ifndef QUANTFACE_CORE_EVAL_EMBEDDING_SPREAD_H_
#define QUANTFACE_CORE_EVAL_EMBEDDING_SPREAD_H_

#include <torch/torch.h>

#include "absl/status/statusor.h"

namespace qf::eval {

// The mean of cos(e_i, e_j) over all ordered pairs i != j of the rows of
// `embeddings` (N x D, any length: rows are normalized first). Computed as
// (|sum of unit rows|^2 - N) / (N (N - 1)), in O(N D) without an N x N
// matrix, in double precision. InvalidArgument unless 2-D with N >= 2 and
// no zero row.
absl::StatusOr<double> MeanPairwiseCosine(const torch::Tensor& embeddings);

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_EMBEDDING_SPREAD_H_
