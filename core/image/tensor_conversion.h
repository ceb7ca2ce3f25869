// Aligned crops -> the float32 NCHW input tensor of a model.
//
// Contract: each crop must be a size x size CV_8UC3 BGR image
// (FaceAligner's output for the same InputSpec). Pixel p of tensor channel c
// (channels in spec.channel_order) becomes (p - spec.mean[c]) * spec.scale[c].
// The result is a contiguous CPU tensor of shape N x 3 x size x size; an
// empty batch, a wrong size or type gives InvalidArgumentError naming the
// crop's index.
#ifndef QUANTFACE_CORE_IMAGE_TENSOR_CONVERSION_H_
#define QUANTFACE_CORE_IMAGE_TENSOR_CONVERSION_H_

#include <torch/torch.h>

#include <opencv2/core.hpp>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "core/nn/input_spec.h"

namespace qf::image {

absl::StatusOr<torch::Tensor> CropsToTensor(absl::Span<const cv::Mat> crops,
                                            const nn::InputSpec& spec);

// The inverse of CropsToTensor: each row of an N x 3 x size x size tensor
// (any float dtype, any device) back to a size x size CV_8UC3 BGR image,
// pixels rounded and clamped to 0..255. So a crop survives the round trip
// exactly, and a tensor to within half a pixel level. InvalidArgumentError
// for another shape. Used to write generated training sets as image files.
absl::StatusOr<std::vector<cv::Mat>> TensorToCrops(const torch::Tensor& batch,
                                                   const nn::InputSpec& spec);

// The horizontal mirror of an N x C x H x W batch: the same as mirroring each
// crop before CropsToTensor, since normalization is per channel. Used for
// flip-averaged embeddings (embed both, add, L2-normalize).
torch::Tensor MirrorBatch(const torch::Tensor& batch);

// [batch; MirrorBatch(batch)] along N (2N rows), so that a model embeds a
// batch and its mirror in one forward pass; rows i and N + i belong together.
torch::Tensor WithMirrored(const torch::Tensor& batch);

}  // namespace qf::image

#endif  // QUANTFACE_CORE_IMAGE_TENSOR_CONVERSION_H_
