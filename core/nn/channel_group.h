// ChannelGroup: channels that a backbone can rescale, each by its own
// positive factor, without changing the function it computes.
//
// Why: quantization sees each activation per tensor, so a channel whose
// values are ten times smaller than its neighbours' gets a tenth of the
// grid. Where only operations that commute with a positive per-channel
// factor (ReLU, max/average pooling, zero padding, adds of equally scaled
// tensors, a spatial mean) lie between the layers that write some channels
// and the layers that read them, multiplying what the writers produce by
// s[c] and dividing what the readers take in by s[c] leaves the output
// unchanged in exact arithmetic (ReLU(s x) = s ReLU(x) for s > 0) and lets a
// quantizer choose the factors (channel_equalizer.h).
//
// Contract for backbones that describe groups (Hookable::channel_groups()):
// multiplying output channel c < out_channels of every producer (its weight
// row and bias) by s[c] and dividing input channel c < in_channels of every
// consumer (its weight column; groups == 1) by s[c] must leave forward()
// unchanged for every positive s of size `channels`; every site in `sites`
// (a FakeQuantHooks site name) must carry these channels, and only these,
// on dimension 1, multiplied by s. Layers are named as named_modules()
// names them.
#ifndef QUANTFACE_CORE_NN_CHANNEL_GROUP_H_
#define QUANTFACE_CORE_NN_CHANNEL_GROUP_H_

#include <cstdint>
#include <string>
#include <vector>

namespace qf::nn {

struct ChannelGroup {
  std::string name;  // For reports, e.g. "stream" or "conv32_1/branch".
  int64_t channels = 0;
  std::vector<std::string> producers;  // Conv2d layers whose outputs carry the channels.
  std::vector<std::string> consumers;  // Conv2d (groups == 1) or Linear layers reading them.
  std::vector<std::string> sites;      // Quantized activations carrying them.
};

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_CHANNEL_GROUP_H_
