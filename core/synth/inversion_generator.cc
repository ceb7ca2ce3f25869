#include "core/synth/inversion_generator.h"

#include <ATen/CPUGeneratorImpl.h>

#include <algorithm>
#include <memory>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/synth/pixel_normalization.h"
#include "core/synth/procedural_face_source.h"

namespace qf::synth {
namespace {

// Mean absolute difference between horizontal and vertical neighbours.
torch::Tensor TotalVariation(const torch::Tensor& x) {
  const torch::Tensor dh = (x.slice(2, 1) - x.slice(2, 0, -1)).abs().mean();
  const torch::Tensor dw = (x.slice(3, 1) - x.slice(3, 0, -1)).abs().mean();
  return dh + dw;
}

int64_t RandomInt(torch::Generator& gen, int64_t low, int64_t high) {
  return torch::randint(low, high + 1, {1}, gen, torch::TensorOptions(torch::kLong))
      .item<int64_t>();
}

}  // namespace

double PixelStep(const InversionOptions& options) {
  if (options.learning_rate > 0) return options.learning_rate;
  // Written as the CLI would take them (--synth-lr 2.55 names the same
  // cached set as the default); 0.05 * 255.0 is the value sets from noise
  // have always been keyed by.
  return options.start == InversionStart::kRenderedFaces ? 2.55 : 0.05 * 255.0;
}

nlohmann::json InversionSpec(const std::string& teacher_id, const nn::InputSpec& input,
                             const InversionOptions& options) {
  nlohmann::json spec = {{"kind", "builtin-inversion"},
                         {"version", 1},
                         {"teacher", teacher_id},
                         {"size", input.size},
                         {"num_images", options.num_images},
                         {"views_per_identity", options.views_per_identity},
                         {"batch_size", options.batch_size},
                         {"steps", options.steps},
                         {"learning_rate", PixelStep(options)},
                         {"tv_weight", options.tv_weight},
                         {"l2_weight", options.l2_weight},
                         {"jitter", options.jitter},
                         {"seed", options.seed}};
  // Only rendered starts name their start, so sets generated before it
  // existed keep their cache keys.
  if (options.start == InversionStart::kRenderedFaces) {
    spec["start"] = ProceduralFaceSource::SpecFor(input, options.seed);
    spec["spread"] = options.spread;
  }
  return spec;
}

absl::StatusOr<torch::Tensor> GenerateByInversion(nn::Backbone& teacher,
                                                  const InversionOptions& options,
                                                  torch::Device device,
                                                  const InversionProgress& progress) {
  const bool rendered = options.start == InversionStart::kRenderedFaces;
  if (options.num_images <= 0 || options.steps <= 0 || options.batch_size <= 0) {
    return absl::InvalidArgumentError(
        "inversion: num_images, steps and batch_size must be positive");
  }
  if (!rendered &&
      (options.views_per_identity <= 0 || options.batch_size % options.views_per_identity != 0)) {
    return absl::InvalidArgumentError(
        "inversion: views_per_identity must be positive and divide batch_size");
  }
  if (rendered && !(options.spread > 0.0)) {
    return absl::InvalidArgumentError("inversion: spread must be positive");
  }
  const nn::InputSpec& input = teacher.spec().input;
  std::unique_ptr<ProceduralFaceSource> faces;  // The starts, when rendered.
  if (rendered) {
    auto created = ProceduralFaceSource::Create(input, options.seed);
    if (!created.ok()) return created.status();
    faces = *std::move(created);
  }
  const int64_t dim = teacher.spec().embedding_dim;
  const int64_t size = input.size;
  try {
    teacher.eval();
    for (auto& p : teacher.parameters()) p.set_requires_grad(false);
    torch::Generator gen = at::detail::createCPUGenerator(options.seed);
    const auto cpu_float = torch::TensorOptions(torch::kFloat);
    const auto embed = [&](const torch::Tensor& pixels) {
      return torch::nn::functional::normalize(teacher.forward(NormalizePixels(pixels, input)),
                                              torch::nn::functional::NormalizeFuncOptions().dim(1));
    };
    std::vector<torch::Tensor> done;
    int64_t produced = 0;
    while (produced < options.num_images) {
      if (options.should_stop && options.should_stop()) {
        for (auto& p : teacher.parameters()) p.set_requires_grad(true);
        return absl::CancelledError(
            absl::StrCat("synthetic data generation cancelled after ", produced, " images"));
      }
      const int64_t n = std::min(options.batch_size, options.num_images - produced);
      torch::Tensor pixels, targets;
      if (rendered) {
        pixels = faces->RenderPixels(n);
        if (input.channel_order == nn::ChannelOrder::kBgr) pixels = pixels.flip({1});
        pixels = pixels.to(device);
        torch::NoGradGuard no_grad;
        const torch::Tensor own = embed(pixels);
        const torch::Tensor mean = own.mean(0, /*keepdim=*/true);
        targets =
            torch::nn::functional::normalize(mean + options.spread * (own - mean),
                                             torch::nn::functional::NormalizeFuncOptions().dim(1));
      } else {
        const int64_t identities =
            (n + options.views_per_identity - 1) / options.views_per_identity;
        targets = torch::randn({identities, dim}, gen, cpu_float);
        targets = torch::nn::functional::normalize(
            targets.repeat_interleave(options.views_per_identity, 0).slice(0, 0, n),
            torch::nn::functional::NormalizeFuncOptions().dim(1));
        targets = targets.to(device);
        pixels = (torch::randn({n, 3, size, size}, gen, cpu_float) * 32.0 + 128.0).to(device);
      }
      pixels.set_requires_grad(true);
      torch::optim::Adam optimizer({pixels}, torch::optim::AdamOptions(PixelStep(options)));
      double mean_cos = 0;
      for (int64_t step = 0; step < options.steps; ++step) {
        // Polled per Adam step too: one batch takes up to a minute on a CPU.
        if (options.should_stop && options.should_stop()) {
          for (auto& p : teacher.parameters()) p.set_requires_grad(true);
          return absl::CancelledError(
              absl::StrCat("synthetic data generation cancelled after ", produced, " images"));
        }
        torch::Tensor x = pixels;
        if (options.jitter > 0) {
          const int64_t dx = RandomInt(gen, -options.jitter, options.jitter);
          const int64_t dy = RandomInt(gen, -options.jitter, options.jitter);
          x = torch::roll(x, {dy, dx}, {2, 3});
        }
        const torch::Tensor flip = (torch::rand({n}, gen, cpu_float) < 0.5).to(device);
        x = torch::where(flip.view({-1, 1, 1, 1}), x.flip({3}), x);
        const torch::Tensor cos = (embed(x) * targets).sum(1);
        const torch::Tensor loss = (1.0 - cos).mean() +
                                   options.tv_weight * TotalVariation(pixels / 255.0) +
                                   options.l2_weight * ((pixels - 128.0) / 255.0).pow(2).mean();
        optimizer.zero_grad();
        loss.backward();
        optimizer.step();
        {
          torch::NoGradGuard no_grad;
          pixels.clamp_(0.0, 255.0);
        }
        mean_cos = cos.mean().item<double>();
      }
      {
        torch::NoGradGuard no_grad;
        done.push_back(NormalizePixels(pixels.detach(), input).to(torch::kCPU));
      }
      produced += n;
      if (progress) progress(produced, options.num_images, mean_cos);
    }
    for (auto& p : teacher.parameters()) p.set_requires_grad(true);
    return torch::cat(done);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("synthetic inversion failed: ", e.what_without_backtrace()));
  }
}

}  // namespace qf::synth
