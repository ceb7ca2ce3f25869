// How a face-embedding model wants its input: the aligned crop's size, the
// landmark template the five points are mapped onto, channel order and
// per-channel normalization.
//
// A pixel value p (0..255, in `channel_order`) becomes (p - mean[c]) * scale[c]
// in the input tensor, laid out N x 3 x size x size (NCHW, float32).
#ifndef QUANTFACE_CORE_NN_INPUT_SPEC_H_
#define QUANTFACE_CORE_NN_INPUT_SPEC_H_

#include <array>
#include <cstddef>

namespace qf::nn {

enum class ChannelOrder { kRgb, kBgr };

struct LandmarkTemplate {
  // Left eye, right eye, nose tip, left mouth corner, right mouth corner, as
  // (x, y) in crop pixel coordinates.
  std::array<std::array<float, 2>, 5> points;
};

struct InputSpec {
  int size = 112;  // The crop is size x size pixels.
  LandmarkTemplate landmark_template{};
  ChannelOrder channel_order = ChannelOrder::kRgb;
  std::array<float, 3> mean{0.f, 0.f, 0.f};   // In tensor channel order.
  std::array<float, 3> scale{1.f, 1.f, 1.f};  // In tensor channel order.
};

// The standard ArcFace 112x112 five-point template (InsightFace), multiplied
// by `size / 112`.
LandmarkTemplate ArcFaceTemplate(int size = 112);

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_INPUT_SPEC_H_
