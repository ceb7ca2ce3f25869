// Residual stream equalization: rescales the channels of dlib-resnet's
// residual stream so that they span more even ranges, before quantization.
//
// Why: each block's output is quantized per tensor (the paper's
// quantization points), so at 4 bits a channel that spans a third of the
// tensor's range gets about 5 of its 16 levels. DlibResnet's
// ScaleResidualStream() moves a per-channel factor from the stream's
// writers into its readers without changing the float function (ReLU and
// the pools commute with positive factors), in the spirit of cross-layer
// equalization (Nagel et al., "Data-Free Quantization Through Weight
// Equalization and Bias Correction", ICCV 2019), here across the whole
// stream rather than one pair of layers. The price is paid by the readers'
// weights: dividing an input channel's weights by its factor gives them a
// smaller share of each output channel's per-channel weight grid; the
// strength trades the two (0: no change, 1: every channel's median-depth
// span made equal). Not the paper's method.
//
// Contract: ResidualStreamFactors() runs `batch` through `model` in full
// precision (the model's own hooks, if any, are set aside and restored) and
// returns kStreamChannels factors: for channel c, (the geometric mean over
// the stream's readers of c's span / the widest channel's span) to the power
// -strength, floored at 1e-3 before the power so that a dead channel stays
// finite. ScaleResidualStream() applies factors (DlibResnet::
// ScaleResidualStream); EqualizeResidualStream() computes and applies them.
// Each needs a DlibResnet (FailedPrecondition otherwise); strength must be
// in [0, 1] (InvalidArgument otherwise).
#ifndef QUANTFACE_CORE_QUANT_RESIDUAL_STREAM_EQUALIZER_H_
#define QUANTFACE_CORE_QUANT_RESIDUAL_STREAM_EQUALIZER_H_

#include <torch/torch.h>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::quant {

// Span (max - min over the batch and every position) of each channel of
// `x`, whose channels are dimension 1 (N x C x H x W or N x C).
torch::Tensor ChannelSpans(const torch::Tensor& x);

absl::StatusOr<torch::Tensor> ResidualStreamFactors(nn::Backbone& model, const torch::Tensor& batch,
                                                    double strength);

absl::Status ScaleResidualStream(nn::Backbone& model, const torch::Tensor& factors);

absl::Status EqualizeResidualStream(nn::Backbone& model, const torch::Tensor& batch,
                                    double strength);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_RESIDUAL_STREAM_EQUALIZER_H_
