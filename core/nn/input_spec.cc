#include "core/nn/input_spec.h"

namespace qf::nn {

LandmarkTemplate ArcFaceTemplate(int size) {
  static constexpr std::array<std::array<float, 2>, 5> kArcFace112 = {{
      {38.2946f, 51.6963f},
      {73.5318f, 51.5014f},
      {56.0252f, 71.7366f},
      {41.5493f, 92.3655f},
      {70.7299f, 92.2041f},
  }};
  const float factor = static_cast<float>(size) / 112.f;
  LandmarkTemplate result{};
  for (std::size_t i = 0; i < kArcFace112.size(); ++i) {
    result.points[i] = {kArcFace112[i][0] * factor, kArcFace112[i][1] * factor};
  }
  return result;
}

}  // namespace qf::nn
