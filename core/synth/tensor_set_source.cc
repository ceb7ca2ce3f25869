#include "core/synth/tensor_set_source.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

namespace qf::synth {
namespace {

namespace F = torch::nn::functional;

nlohmann::json WithAugmentation(nlohmann::json spec, const SetAugmentation& augmentation) {
  if (augmentation.enabled()) spec["augmentation"] = augmentation.ToJson();
  return spec;
}

}  // namespace

nlohmann::json SetAugmentation::ToJson() const {
  nlohmann::json json = {{"max_shift", max_shift},
                         {"max_zoom", max_zoom},
                         {"max_rotation_degrees", max_rotation_degrees}};
  // Written only when set, so that the specs of earlier sets stay as they were.
  if (blends()) json["max_blend"] = max_blend;
  if (recolors()) json["max_color_jitter"] = max_color_jitter;
  if (downscales()) json["max_downscale"] = max_downscale;
  return json;
}

SetAugmentation FaceViewAugmentation() {
  SetAugmentation augmentation;
  augmentation.max_shift = 0.06;
  augmentation.max_zoom = 0.08;
  augmentation.max_rotation_degrees = 8;
  return augmentation;
}

TensorSetSource::TensorSetSource(torch::Tensor images, nlohmann::json spec, uint64_t seed,
                                 bool mirror, SetAugmentation augmentation)
    : images_(std::move(images)),
      spec_(WithAugmentation(std::move(spec), augmentation)),
      mirror_(mirror),
      augmentation_(augmentation),
      generator_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor TensorSetSource::NextBatch(int64_t batch_size) {
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> parts;
  int64_t needed = batch_size;
  while (needed > 0) {
    if (!order_.defined() || cursor_ >= order_.size(0)) {
      order_ = torch::randperm(images_.size(0), generator_, torch::kLong);
      cursor_ = 0;
    }
    const int64_t take = std::min(needed, order_.size(0) - cursor_);
    parts.push_back(order_.slice(0, cursor_, cursor_ + take));
    cursor_ += take;
    needed -= take;
  }
  torch::Tensor batch = images_.index_select(0, torch::cat(parts));
  if (mirror_) {
    const torch::Tensor flip =
        torch::rand({batch_size}, generator_, torch::TensorOptions(torch::kFloat)) < 0.5;
    batch = torch::where(flip.view({-1, 1, 1, 1}), batch.flip({3}), batch);
  }
  if (augmentation_.moves()) batch = Move(batch);
  if (augmentation_.downscales()) batch = Downscale(batch);
  if (augmentation_.recolors()) batch = Recolor(batch);
  if (augmentation_.blends()) batch = Blend(batch);
  return batch;
}

torch::Tensor TensorSetSource::Blend(const torch::Tensor& batch) {
  const int64_t n = batch.size(0);
  const torch::Tensor partner = torch::randperm(n, generator_, torch::kLong);
  const torch::Tensor weight =
      (torch::rand({n}, generator_, torch::TensorOptions(torch::kFloat)) * augmentation_.max_blend)
          .to(batch.dtype())
          .view({-1, 1, 1, 1});
  return torch::lerp(batch, batch.index_select(0, partner), weight);
}

torch::Tensor TensorSetSource::Recolor(const torch::Tensor& batch) {
  const int64_t n = batch.size(0);
  const int64_t channels = batch.size(1);
  const double bound = augmentation_.max_color_jitter;
  const auto uniform = [&]() {  // n x C x 1 x 1 values in [-bound, bound].
    return ((torch::rand({n, channels, 1, 1}, generator_, torch::TensorOptions(torch::kFloat)) * 2 -
             1) *
            bound)
        .to(batch.dtype());
  };
  const torch::Tensor contrast = 1.0 + uniform();
  const torch::Tensor shift = uniform();
  const torch::Tensor mean = batch.mean({2, 3}, /*keepdim=*/true);
  const torch::Tensor deviation = batch.std({2, 3}, /*unbiased=*/false, /*keepdim=*/true);
  return mean + contrast * (batch - mean) + shift * deviation;
}

torch::Tensor TensorSetSource::Downscale(const torch::Tensor& batch) {
  const int64_t n = batch.size(0);
  const int64_t height = batch.size(2);
  const int64_t width = batch.size(3);
  const torch::Tensor factors =
      1.0 + torch::rand({n}, generator_, torch::TensorOptions(torch::kDouble)) *
                (augmentation_.max_downscale - 1.0);
  std::vector<torch::Tensor> images;
  images.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    // One image at a time: each has its own small size.
    const double factor = factors[i].item<double>();
    const auto shrunk = [factor](int64_t side) {
      return std::max<int64_t>(1, std::lround(static_cast<double>(side) / factor));
    };
    torch::Tensor image = batch.slice(0, i, i + 1);
    if (shrunk(height) < height || shrunk(width) < width) {
      const torch::Tensor small =
          F::interpolate(image, F::InterpolateFuncOptions()
                                    .size(std::vector<int64_t>{shrunk(height), shrunk(width)})
                                    .mode(torch::kArea));
      image = F::interpolate(small, F::InterpolateFuncOptions()
                                        .size(std::vector<int64_t>{height, width})
                                        .mode(torch::kBilinear)
                                        .align_corners(false));
    }
    images.push_back(image);
  }
  return torch::cat(images);
}

torch::Tensor TensorSetSource::Move(const torch::Tensor& batch) {
  const int64_t n = batch.size(0);
  const auto uniform = [&](double bound) {  // n values in [-bound, bound].
    return (torch::rand({n}, generator_, torch::TensorOptions(torch::kFloat)) * 2 - 1) * bound;
  };
  const torch::Tensor shift_x = uniform(augmentation_.max_shift) * 2;  // Grid spans [-1, 1].
  const torch::Tensor shift_y = uniform(augmentation_.max_shift) * 2;
  // affine_grid maps output to input coordinates, so a zoom z samples a
  // window 1/z the size.
  const torch::Tensor inverse_zoom = 1.0 / (1.0 + uniform(augmentation_.max_zoom));
  const torch::Tensor angle = uniform(augmentation_.max_rotation_degrees * M_PI / 180.0);
  const torch::Tensor cos = torch::cos(angle) * inverse_zoom;
  const torch::Tensor sin = torch::sin(angle) * inverse_zoom;
  const torch::Tensor theta =
      torch::stack({torch::stack({cos, -sin, shift_x}, 1), torch::stack({sin, cos, shift_y}, 1)}, 1)
          .to(batch.dtype());
  const torch::Tensor grid = F::affine_grid(theta, batch.sizes(), /*align_corners=*/false);
  return F::grid_sample(batch, grid,
                        F::GridSampleFuncOptions()
                            .mode(torch::kBilinear)
                            .padding_mode(torch::kBorder)
                            .align_corners(false));
}

}  // namespace qf::synth
