#include "core/synth/torchscript_generator.h"

#include <utility>

#include <ATen/CPUGeneratorImpl.h>

#include "absl/strings/str_cat.h"

namespace qf::synth {
namespace {

constexpr int64_t kMinSide = 8;
constexpr int64_t kMaxSide = 1024;
constexpr int64_t kMaxLatentDim = 65536;

// Checks one output batch against the contract for `n` latents.
absl::Status CheckOutput(const torch::Tensor& images, int64_t n) {
  if (!images.defined() || images.dim() != 4 || images.size(0) != n || images.size(1) != 3) {
    return absl::InvalidArgumentError(absl::StrCat(
        "the generator must return images [N, 3, H, W] for latents [N, latent_dim] (N = ", n,
        "), got ", images.defined() ? c10::str(images.sizes()) : std::string("nothing")));
  }
  if (images.size(2) < kMinSide || images.size(2) > kMaxSide || images.size(3) < kMinSide ||
      images.size(3) > kMaxSide) {
    return absl::InvalidArgumentError(absl::StrCat("the generator's images are ", images.size(2),
                                                   "x", images.size(3), "; H and W must be in ",
                                                   kMinSide, "..", kMaxSide));
  }
  if (!images.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("the generator must return float images, got ", c10::str(images.dtype())));
  }
  if (!torch::isfinite(images).all().item<bool>()) {
    return absl::InvalidArgumentError("the generator returned non-finite values");
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::unique_ptr<TorchScriptGenerator>> TorchScriptGenerator::Load(
    const std::string& path, int64_t latent_dim, torch::Device device) {
  torch::jit::Module module;
  try {
    module = torch::jit::load(path, device);
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("not a TorchScript module: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("not a TorchScript module: ", e.what()));
  }
  if (latent_dim == 0) {
    if (!module.hasattr("latent_dim") || !module.attr("latent_dim").isInt()) {
      return absl::InvalidArgumentError(
          "the generator's latent size is unknown: give metadata.latent_dim or define an "
          "integer attribute `latent_dim` on the module");
    }
    latent_dim = module.attr("latent_dim").toInt();
  }
  if (latent_dim < 1 || latent_dim > kMaxLatentDim) {
    return absl::InvalidArgumentError(
        absl::StrCat("latent_dim must be in 1..", kMaxLatentDim, ", got ", latent_dim));
  }
  module.eval();
  Info info;
  info.latent_dim = latent_dim;
  std::unique_ptr<TorchScriptGenerator> generator(  // Private constructor.
      new TorchScriptGenerator(std::move(module), info, device));
  // A fixed probe batch: loading the same file twice answers the same.
  const torch::Generator gen = at::detail::createCPUGenerator(0);
  const torch::Tensor latents = at::normal(0.0, 1.0, {2, latent_dim}, gen, torch::kFloat);
  auto probe = generator->Generate(latents);
  if (!probe.ok()) return probe.status();
  generator->info_.height = probe->size(2);
  generator->info_.width = probe->size(3);
  return generator;
}

absl::StatusOr<torch::Tensor> TorchScriptGenerator::Generate(const torch::Tensor& latents) {
  if (latents.dim() != 2 || latents.size(1) != info_.latent_dim) {
    return absl::InvalidArgumentError(absl::StrCat("latents must be [N, ", info_.latent_dim,
                                                   "], got ", c10::str(latents.sizes())));
  }
  torch::Tensor images;
  try {
    torch::NoGradGuard no_grad;
    const torch::IValue output = module_.forward({latents.to(device_, torch::kFloat)});
    if (!output.isTensor()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "the generator must return one tensor, got a value of type ", output.tagKind()));
    }
    images = output.toTensor();
  } catch (const c10::Error& e) {
    return absl::InvalidArgumentError(absl::StrCat("the generator failed on latents [",
                                                   latents.size(0), ", ", info_.latent_dim,
                                                   "]: ", e.what_without_backtrace()));
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("the generator failed: ", e.what()));
  }
  if (absl::Status s = CheckOutput(images, latents.size(0)); !s.ok()) return s;
  if (info_.height > 0 && (images.size(2) != info_.height || images.size(3) != info_.width)) {
    return absl::InvalidArgumentError(absl::StrCat("the generator's image size changed from ",
                                                   info_.height, "x", info_.width, " to ",
                                                   images.size(2), "x", images.size(3)));
  }
  return images.to(torch::kFloat);
}

}  // namespace qf::synth
