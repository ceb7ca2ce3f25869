// TensorSetSource: serves batches from a materialized set of synthetic
// images (the built-in generator's output or a declared-synthetic folder), in
// a fresh random order each epoch, each image mirrored with probability 1/2
// (faces are symmetric enough that a mirror is another valid view) and, with
// a SetAugmentation, seen from a random nearby viewpoint, at a lower
// resolution, recoloured and/or blended with another image of its batch.
// Deterministic for a given seed.
#ifndef QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>

#include "core/synth/image_source.h"

namespace qf::synth {

// Random geometric views of a set's images. Why: a few hundred generated
// faces are seen a dozen times each in a QAT run, and a student can fit
// those exact pixels without fitting faces; small shifts, zooms and
// rotations, the variation a face aligner leaves in real crops, make each
// visit a new input whose teacher embedding is computed afresh. Each image
// gets its own shift, zoom and rotation, uniform within the bounds, resampled
// bilinearly with the border pixels extended. All bounds 0: no resampling.
//
// Blending (max_blend > 0) then mixes each image with another image of the
// same batch (a random pairing), (1 - t) x + t y with t uniform in
// [0, max_blend]. Why: distillation needs no labels, so a blend of two
// aligned synthetic faces, a face morph whose teacher embedding lies
// between theirs, is one more input to match, and a set of N faces offers
// N^2 pairs of them; blends of synthetic faces stay synthetic. Not the
// paper's method.
//
// Recoloring (max_color_jitter = J > 0) then changes each image's colours:
// each channel c of each image becomes m_c + k_c (x_c - m_c) + t_c s_c,
// where m_c and s_c are that channel's mean and standard deviation over the
// image, k_c is uniform in [1 - J, 1 + J] and t_c in [-J, J], drawn
// per image and channel. A per-channel affine map of an image's own
// statistics is the same in pixel levels and in any per-channel affine
// normalization of them, so the source needs no pixel format. Why: a
// generated set's colours are those of its renderer (faces on green
// backgrounds), and a low-bit student distilled on them matches its
// teacher far less closely on real photographs (cosine 0.96 against 0.89,
// docs/BENCHMARKS.md, session 35); different contrasts and colour casts
// exercise the quantized activations over more of the ranges real faces
// reach. Recolored synthetic faces stay synthetic. Not the paper's method,
// and on that student (J = 0.5) it moved neither LFW accuracy beyond the
// run-to-run spread nor the cosine on LFW: colour is not what the set lacks.
//
// Downscaling (max_downscale = D > 1), after the view and before the
// colours, takes each image to a lower resolution and back: shrunk by a
// factor f uniform in [1, D] (area averaging, so no aliasing), then
// enlarged to its size again bilinearly. Why: a generated face is sharp at
// the model's input size, with inversion's fine texture on top, while real
// crops are often enlarged from small faces (LFW's 150-pixel images have
// about 24 pixels between the eyes; faceres' 224-pixel template has 70, so
// its LFW inputs are enlarged about 3x and hold no detail finer than a
// third of their grid). A student distilled on sharp faces only sets its
// activation grids and adapts its weights to content real crops lack.
// Downscaled synthetic faces stay synthetic. Not the paper's method.
struct SetAugmentation {
  double max_shift = 0;             // Fraction of the side, per axis.
  double max_zoom = 0;              // Scale factor in [1 - z, 1 + z].
  double max_rotation_degrees = 0;  // Either way.
  double max_blend = 0;             // Partner's weight, in [0, kMaxBlend].
  double max_color_jitter = 0;      // In [0, kMaxColorJitter].
  double max_downscale = 1;         // In [1, kMaxDownscale]; 1 = off.

  // Past half the partner would be the image and the image its partner.
  static constexpr double kMaxBlend = 0.5;
  // Below 1, so that a channel's contrast never vanishes or inverts.
  static constexpr double kMaxColorJitter = 0.9;
  // An eighth of a 112-pixel input is 14 pixels: a face is still there.
  static constexpr double kMaxDownscale = 8;

  bool moves() const { return max_shift > 0 || max_zoom > 0 || max_rotation_degrees > 0; }
  bool blends() const { return max_blend > 0; }
  bool recolors() const { return max_color_jitter > 0; }
  bool downscales() const { return max_downscale > 1; }
  bool enabled() const { return moves() || blends() || recolors() || downscales(); }
  nlohmann::json ToJson() const;
};

// The bounds `quantize --augment` uses: +-6 % shift, +-8 % zoom, +-8
// degrees; small enough that the face stays centred and upright.
SetAugmentation FaceViewAugmentation();

class TensorSetSource : public ImageSource {
 public:
  // images: N x 3 x S x S normalized model input, N >= 1. An enabled
  // `augmentation` is recorded in spec() under "augmentation".
  TensorSetSource(torch::Tensor images, nlohmann::json spec, uint64_t seed, bool mirror = true,
                  SetAugmentation augmentation = {});

  torch::Tensor NextBatch(int64_t batch_size) override;
  nlohmann::json spec() const override { return spec_; }
  int64_t size() const { return images_.size(0); }

 private:
  torch::Tensor Move(const torch::Tensor& batch);
  torch::Tensor Downscale(const torch::Tensor& batch);
  torch::Tensor Blend(const torch::Tensor& batch);
  torch::Tensor Recolor(const torch::Tensor& batch);

  const torch::Tensor images_;
  const nlohmann::json spec_;
  const bool mirror_;
  const SetAugmentation augmentation_;
  torch::Generator generator_;
  torch::Tensor order_;
  int64_t cursor_ = 0;
};

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_TENSOR_SET_SOURCE_H_
