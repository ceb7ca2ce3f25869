// quant_bench weight-sensitivity and activation-sensitivity: where low bits
// cost the embedding most, layer by layer or site by site.
//
// Both calibrate fake-quant students of a built-in model on `images`
// rendered faces (one observed forward, then frozen) and print the mean
// cosine between the students' and the teacher's embeddings of those faces.
//
// weight-sensitivity (activations at 8 bits): every conv/linear layer's
// weights at 8 bits, at `weight_bits`, then for each layer only its weights
// at `weight_bits`, and every layer's but its.
//
// activation-sensitivity (weights at `weight_bits`, 8 by default): two
// students, one with 8-bit activations and one with `activation_bits`, and a
// router that sends each quantization site (a conv/linear input, a
// residual-add operand) to one of the two, so any subset of sites runs at
// low bits on its own calibrated range. It prints every site at 8 and at
// low bits, only the conv/linear inputs or only the add operands at low
// bits, then for each site only it at low bits, and every site but it.
//
// Why bench tools: they tell where a low-bit budget is lost
// (docs/BENCHMARKS.md), which the LFW accuracy of a whole student cannot.
#ifndef QUANTFACE_BENCH_QUANT_SENSITIVITY_H_
#define QUANTFACE_BENCH_QUANT_SENSITIVITY_H_

#include <cstdint>
#include <string>

namespace qf::bench {

struct SensitivityOptions {
  std::string teacher = "dlib-resnet";
  std::string asset_dir = ".cache/assets";
  int weight_bits = 4;
  int activation_bits = 8;
  std::string weight_scheme = "asymmetric";  // or "symmetric", as in quantize.
  std::string activation_ranges = "minmax";  // or "mse", as in quantize.
  int64_t images = 64;
  int threads = 2;
};

// Each prints its table to stdout and returns a process exit status (errors
// go to stderr).
int WeightSensitivity(const SensitivityOptions& options);
int ActivationSensitivity(const SensitivityOptions& options);

}  // namespace qf::bench

#endif  // QUANTFACE_BENCH_QUANT_SENSITIVITY_H_
