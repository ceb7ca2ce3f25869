// RunQuantizeJob: one quantization job end to end, the code path shared by
// the offline CLI (`quantface quantize`), benchmarks and the server's job
// system: load the teacher, build the synthetic source (cached on disk when
// generated), fake-quantize a copy of the teacher, train it by distillation
// (QAT) or calibrate it (PTQ), optionally evaluate teacher / student / cross
// on LFW, and return the student with a JSON report of everything needed to
// reproduce the job.
//
// Contract: training sources are synthetic only (noise, the built-in
// inversion generator, or a folder or TorchScript generator the user declared synthetic; see
// core/synth). Runs on CUDA when available and allowed, else on the CPU with
// `threads` intra-op threads (0 keeps LibTorch's default). Never throws.
#ifndef QUANTFACE_CORE_QUANT_QUANTIZE_JOB_H_
#define QUANTFACE_CORE_QUANT_QUANTIZE_JOB_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/quant/distiller.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/integer_lfw_eval.h"
#include "core/quant/lfw_student_eval.h"
#include "core/quant/quant_bits.h"
#include "core/quant/student_all_pairs_eval.h"
#include "core/synth/inversion_generator.h"
#include "core/synth/tensor_set_source.h"

namespace qf::quant {

enum class QuantMethod { kQat, kPtq };

// Rendered faces that residual stream equalization measures channels on.
inline constexpr int64_t kEqualizationImages = 64;

// The held-out synthetic set of QuantizeJobConfig::synthetic_eval_images
// is generated with the training set's seed plus this.
inline constexpr uint64_t kHeldOutSeedOffset = 1000;

struct QuantizeJobConfig {
  std::string teacher = "dlib-resnet";
  std::string asset_dir;
  QuantBits bits;
  bool keep_first_last_8bit = false;
  bool keep_depthwise_8bit = false;           // FakeQuantOptions::keep_depthwise_8bit.
  std::vector<std::string> keep_8bit_layers;  // FakeQuantOptions::keep_8bit_layers.
  bool keep_add_operands_8bit = false;        // FakeQuantOptions::keep_add_operands_8bit.
  bool keep_residual_operands_8bit = false;   // FakeQuantOptions::keep_residual_operands_8bit.
  WeightScheme weight_scheme = WeightScheme::kAuto;  // FakeQuantOptions::weight_scheme.
  // Activation ranges from batch min/max (the paper) or MSE-clipped
  // (core/quant/range_estimator.h); applies to PTQ calibration and the QAT
  // warm-up alike.
  RangeEstimator activation_ranges = RangeEstimator::kMinMax;
  // Weight ranges per channel from min/max (the paper) or MSE-clipped
  // (EstimateWeightClip), refreshed while observing and frozen after.
  RangeEstimator weight_ranges = RangeEstimator::kMinMax;
  QuantMethod method = QuantMethod::kQat;
  // A packed student (.qfp) of the same teacher whose weights the job starts
  // from instead of the teacher's (core/quant/student_init.h); empty: the
  // teacher's. Not the paper's method: progressive quantization, e.g. w4a4
  // from a w4a8 student.
  std::string init_student_path;
  // Strength in [0, 1] of residual stream equalization before quantizing
  // (core/quant/residual_stream_equalizer.h; dlib-resnet only), factors
  // measured on kEqualizationImages rendered faces of `seed`; 0: off. The
  // teacher that QAT distills from gets the same factors, so that feature
  // distillation compares like with like. Refused with init_student_path
  // (that student's weights carry their own factors). Not the paper's method.
  double residual_stream_equalization = 0.0;
  // "noise", "procedural" (rendered faces), "procedural+noise" (half of
  // each batch each), "builtin" (teacher inversion from noise),
  // "inverted-faces" (teacher inversion from rendered faces, spread apart:
  // synth::InversionStart::kRenderedFaces), "folder" or "generator".
  std::string source = "builtin";
  std::string folder;
  bool folder_declared_synthetic = false;
  // source "generator": a TorchScript generator file (core/synth/
  // torchscript_generator.h) the caller declares synthetic; refused without
  // the declaration. latent_dim 0 reads the module's `latent_dim`.
  std::string generator_path;
  int64_t generator_latent_dim = 0;
  bool generator_declared_synthetic = false;
  nlohmann::json generator_description = nlohmann::json::object();  // Into the source's spec.
  synth::InversionOptions inversion;
  // Random views, recolourings and blends of a materialized set's images
  // (sources builtin, inverted-faces and folder; refused for the others,
  // which make new images every batch; a blend bound outside [0, 0.5] or a
  // colour jitter bound outside [0, 0.9] is refused). Not the paper's
  // method; off by default.
  synth::SetAugmentation augmentation;
  std::string cache_dir;  // Generated synthetic sets; empty: no caching.
  QatOptions qat;
  PtqOptions ptq;
  // PTQ: where the calibrated ranges are saved once calibration finished
  // (atomically, core/quant/qat_checkpoint.h); a later run of the same job
  // finding a complete file restores them instead of calibrating again.
  // Empty: not saved.
  std::string ptq_checkpoint_path;
  uint64_t seed = 1;
  // > 0: after training, report["synthetic_eval"]: the mean cosine between
  // the teacher's and the (fake-quant) student's embeddings on synthetic
  // images. "training": up to this many of the training set's images, each
  // once as generated (no mirror, views or blends), or this many new images
  // from a source that makes new ones every batch. "held_out", for the
  // generated sources builtin and inverted-faces: this many images
  // generated alike with seed inversion.seed + kHeldOutSeedOffset (cached
  // like a training set). Why: set next to the same cosine on LFW, they
  // tell whether a student's error on real faces is already there on
  // synthetic faces it never saw (a limit of the low-bit student) or only on
  // real ones (a gap between the two kinds of data), and how much it fits
  // its own training images better than new ones. Negative is refused.
  int64_t synthetic_eval_images = 0;
  std::string lfw_dir;  // Empty: no LFW evaluation.
  bool lfw_flip = false;
  // With lfw_dir: also score every pair of LFW images on the student as
  // served (student_all_pairs_eval.h), whose thresholds reach FARs down to
  // 1e-6, next to the teacher's and across the two models (the teacher's
  // rows are cached with View 2's); report["lfw_all_pairs"]. Needs the
  // folder's people.txt.
  bool lfw_all_pairs = false;
  int lfw_all_pairs_max_people = 0;  // The first N people of people.txt; 0: all.
  int threads = 0;
  bool allow_cuda = true;
  int cuda_device = 0;  // Which CUDA device, when CUDA is used.
  // Polled by every long loop (generation, training, calibration) and between
  // phases; returning true ends the job with CANCELLED within one step.
  std::function<bool()> should_stop;
};

// Phases: "synth" (done/total images), "qat" (steps, with loss and lr),
// "ptq", "lfw" (images).
struct JobProgress {
  std::string phase;
  int64_t done = 0;
  int64_t total = 0;
  double loss = 0;
  double learning_rate = 0;
};

struct QuantizeJobResult {
  std::shared_ptr<nn::Backbone> teacher;
  std::shared_ptr<nn::Backbone> student;  // Fake-quantized, hooks attached.
  std::shared_ptr<FakeQuantHooks> hooks;
  std::optional<StudentLfwReport> lfw;  // With config.lfw_dir: the fake-quant student.
  // With config.lfw_dir, when the architecture has an integer forward: the
  // student as served (packed, integer kernels); see integer_lfw_eval.h.
  std::optional<IntegerLfwReport> lfw_integer;
  // With config.lfw_all_pairs: every pair on the student as served, on the
  // teacher and across them.
  std::optional<StudentAllPairsReport> lfw_all_pairs;
  nlohmann::json report;
};

// "dlib-resnet@sha256:<digest of the parameters>": identifies the teacher's
// exact weights (the synthetic cache key and the model file use it).
std::string TeacherId(const nn::Backbone& teacher);

// A set of images made by teacher inversion (sources "builtin" and
// "inverted-faces").
struct GeneratedSet {
  torch::Tensor images;  // N x 3 x S x S, the teacher's normalized input.
  nlohmann::json spec;   // How it was made (synth::InversionSpec); the cache key.
  bool cache_hit = false;
};

// The set a job with `config` trains on when config.source is "builtin" or
// "inverted-faces": read from config.cache_dir when a run with the same
// teacher weights and generation settings made it before, else generated on
// `device` (and cached when config.cache_dir is set). RunQuantizeJob calls
// it, and so does `synth-export`, so that an exported set is exactly what
// such a job sees. InvalidArgumentError for any other source; progress gets
// "synth" updates while generating.
absl::StatusOr<GeneratedSet> GetOrGenerateSet(
    const QuantizeJobConfig& config, nn::Backbone& teacher, torch::Device device,
    const std::function<void(const JobProgress&)>& progress = nullptr);

absl::StatusOr<QuantizeJobResult> RunQuantizeJob(
    const QuantizeJobConfig& config,
    const std::function<void(const JobProgress&)>& progress = nullptr);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QUANTIZE_JOB_H_
