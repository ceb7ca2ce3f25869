// Channel equalization: rescales a backbone's ChannelGroups
// (core/nn/channel_group.h) before quantization so that per-tensor
// activation grids serve every channel, not only the widest.
//
// Why: an activation is quantized per tensor, so at 4 bits a channel whose
// range is a tenth of the widest channel's gets one or two of the 16
// levels. dlib-resnet's residual stream is such a tensor (its add operands
// hold a third of the model's 4-bit activation error, docs/BENCHMARKS.md,
// session 8). Multiplying a channel where it is written and dividing it
// where it is read changes no output in exact arithmetic, and moves the
// channel's imbalance from the per-tensor activation grid into the
// per-channel-quantized weights that read it. The factors follow
// SmoothQuant (Xiao et al., ICML 2023) with its migration strength alpha:
//
//   s[c] = w[c]^(1 - alpha) / a[c]^alpha
//
// where a[c] is channel c's activation range relative to its site's widest
// channel (the geometric mean over the group's sites) and w[c] the largest
// magnitude of the weights reading channel c, relative to the largest
// weight of the same output channel (max over outputs and readers). alpha
// = 1 gives every channel the same range; 0 leaves the activations as
// the weights' imbalance dictates. The factors are normalized to a
// geometric mean of 1 and clipped to [1/max_factor, max_factor], and a
// channel that is zero at every site keeps factor 1. Data-free like the
// rest of quantization: the ranges come from the job's synthetic images.
// Not the paper's method (QuantFace quantizes the teacher's weights as
// they are); the student stays the teacher's function until quantized.
#ifndef QUANTFACE_CORE_QUANT_CHANNEL_EQUALIZER_H_
#define QUANTFACE_CORE_QUANT_CHANNEL_EQUALIZER_H_

#include <torch/torch.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/nn/channel_group.h"
#include "core/synth/image_source.h"

namespace qf::quant {

struct ChannelEqualizationOptions {
  double strength = 0.5;  // alpha, in [0, 1].
  double max_factor = 16;
  int64_t images = 64;  // Synthetic images the activation ranges come from.
  int64_t batch_size = 16;
};

// True when `model` is Hookable and describes channel groups.
bool HasChannelGroups(const nn::Backbone& model);

// InvalidArgumentError unless strength is in [0, 1], max_factor >= 1 and
// images, batch_size > 0.
absl::Status CheckChannelEqualizationOptions(const ChannelEqualizationOptions& options);

// Per channel (dimension 1) of each site: max(x, 0) - min(x, 0) over every
// other dimension and every recorded batch.
using SiteChannelRanges = std::map<std::string, torch::Tensor>;

// The factors s (float32 [group.channels]) for `group` of `model`, from the
// ranges of its sites (a site missing from `ranges` is an error, as is a
// producer or consumer that is not a conv/linear layer of `model`).
absl::StatusOr<torch::Tensor> EqualizationFactors(const torch::nn::Module& model,
                                                  const nn::ChannelGroup& group,
                                                  const SiteChannelRanges& ranges,
                                                  const ChannelEqualizationOptions& options);

// Multiplies output channel c of every producer (weight and bias) by
// factors[c] and divides input channel c of every consumer by it. Checks
// every layer before changing any.
absl::Status ScaleChannelGroup(torch::nn::Module& model, const nn::ChannelGroup& group,
                               const torch::Tensor& factors);

// Records the ranges at every site of `model`'s channel groups over
// options.images images of `source` (full precision, on the device of
// `model`'s parameters; `model` must be Hookable with no hooks installed),
// then scales every group by its EqualizationFactors. Returns a summary per
// group: name, channels, the factors' min and max, and the median over its
// sites and channels of a channel's range relative to its site's widest,
// before and after (the share of a per-tensor grid a typical channel
// gets). FailedPreconditionError if `model` describes no channel groups.
absl::StatusOr<nlohmann::json> EqualizeChannels(nn::Backbone& model, synth::ImageSource& source,
                                                const ChannelEqualizationOptions& options);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_CHANNEL_EQUALIZER_H_
