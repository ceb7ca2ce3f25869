// The built-in synthetic face generator: model inversion of the teacher, in
// the spirit of DeepInversion/ZeroQ, needing nothing but the teacher.
//
// Random images are optimized so that the teacher maps them to synthetic
// identities: each identity is a random unit vector in the embedding space,
// and `views_per_identity` images start from different noise and see
// different augmentations (random jitter by up to `jitter` pixels and
// horizontal flips) while being pulled to the same identity. The loss per
// image is 1 - cos(teacher(aug(x)), identity) plus image priors: total
// variation (smoothness) and a small L2 pull towards mid-grey. Images live in
// pixel space, clamped to 0..255 after each Adam step. Batch-norm statistics
// matching, the usual third prior, does NOT apply to the built-in models: their
// TF.js ports ship with batch norm folded into the convs, so no running
// statistics are left to match.
//
// With InversionStart::kRenderedFaces the images start as rendered faces
// instead (see InversionStart).
//
// Contract: returns num_images normalized model inputs (N x 3 x S x S float32,
// CPU), deterministic for a seed on a given device and thread count; the
// teacher is used in eval mode and not modified. No real image is involved.
#ifndef QUANTFACE_CORE_SYNTH_INVERSION_GENERATOR_H_
#define QUANTFACE_CORE_SYNTH_INVERSION_GENERATOR_H_

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::synth {

// Where each image of a batch starts, and what it is pulled to.
enum class InversionStart {
  // Gaussian noise around mid-grey, pulled to random unit identities
  // (views_per_identity images each).
  kNoise,
  // A procedurally rendered face (procedural_face_source.h), pulled to its
  // own teacher embedding pushed `spread` times as far from the batch's mean
  // embedding. Why: the teacher sees rendered faces as more alike than real
  // people (dlib-resnet: mean pairwise cosine 0.93 on rendered faces), so a
  // student trained on them sees a narrow part of the embedding space; this
  // spreads the identities while the images stay faces. views_per_identity
  // is not used.
  kRenderedFaces,
};

struct InversionOptions {
  int64_t num_images = 512;
  int64_t views_per_identity = 4;
  int64_t batch_size = 32;  // Multiple of views_per_identity.
  int64_t steps = 40;       // Adam steps per batch.
  // Adam step in pixel levels; 0: the start's own (PixelStep()).
  double learning_rate = 0;
  double tv_weight = 0.05;  // On mean |neighbour difference| / 255.
  double l2_weight = 0.01;  // On mean ((p - 128) / 255)^2.
  int64_t jitter = 4;
  uint64_t seed = 1;
  InversionStart start = InversionStart::kNoise;
  double spread = 2.0;  // kRenderedFaces only.
  // Polled between batches; true stops generation with CANCELLED. Not part
  // of the spec.
  std::function<bool()> should_stop;
};

// The Adam step in pixel levels that `options` ask for: learning_rate, or
// when 0 the start's default: 0.05 x 255 from noise, which must travel far,
// and 0.01 x 255 from rendered faces, which must stay faces (with larger
// steps the teacher's gradient paints its texture all over them).
double PixelStep(const InversionOptions& options);

// The spec that identifies a generated set in the cache: generator settings
// plus `teacher_id` (architecture and weights digest).
nlohmann::json InversionSpec(const std::string& teacher_id, const nn::InputSpec& input,
                             const InversionOptions& options);

// progress(images done, total, last batch's mean cosine to its identities).
using InversionProgress = std::function<void(int64_t, int64_t, double)>;

absl::StatusOr<torch::Tensor> GenerateByInversion(nn::Backbone& teacher,
                                                  const InversionOptions& options,
                                                  torch::Device device,
                                                  const InversionProgress& progress = nullptr);

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_INVERSION_GENERATOR_H_
