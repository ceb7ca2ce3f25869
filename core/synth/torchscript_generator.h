// TorchScriptGenerator: a user-supplied synthetic-face generator (e.g. an
// exported StyleGAN) as a TorchScript module: forward(latents) -> images.
//
// Contract of the module: forward takes one float tensor [N, latent_dim] and
// returns one float tensor [N, 3, H, W] of RGB images with values in [-1, 1]
// (StyleGAN's convention; values outside are clamped by the users of the
// images). latent_dim comes from the caller (the upload metadata) or, when
// that is 0, from the module's integer attribute `latent_dim`.
//
// Load() accepts a file only if torch::jit::load succeeds and a probe batch
// of two standard-normal latents comes back with that shape (3 channels,
// H and W in 8..1024), float, finite. Anything else is INVALID_ARGUMENT
// naming the problem. The generator is assumed synthetic; declaring that is
// the uploader's job (the registry refuses undeclared generators).
#ifndef QUANTFACE_CORE_SYNTH_TORCHSCRIPT_GENERATOR_H_
#define QUANTFACE_CORE_SYNTH_TORCHSCRIPT_GENERATOR_H_

#include <torch/script.h>

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"

namespace qf::synth {

class TorchScriptGenerator {
 public:
  struct Info {
    int64_t latent_dim = 0;
    int64_t height = 0;
    int64_t width = 0;
  };

  static absl::StatusOr<std::unique_ptr<TorchScriptGenerator>> Load(
      const std::string& path, int64_t latent_dim, torch::Device device = torch::kCPU);

  const Info& info() const { return info_; }
  torch::Device device() const { return device_; }

  // latents: [N, latent_dim] float on any device. Returns [N, 3, H, W] float
  // on the generator's device, without autograd; INVALID_ARGUMENT when the
  // module breaks its contract for this batch.
  absl::StatusOr<torch::Tensor> Generate(const torch::Tensor& latents);

 private:
  TorchScriptGenerator(torch::jit::Module module, Info info, torch::Device device)
      : module_(std::move(module)), info_(info), device_(device) {}

  torch::jit::Module module_;
  Info info_;  // height and width are set by Load()'s probe.
  const torch::Device device_;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_TORCHSCRIPT_GENERATOR_H_
