// quant_bench activation-sensitivity: which quantized activations cost the
// embedding most when they drop to low bits.
//
// Two fake-quant students of the same backbone are calibrated on the same
// rendered faces, one with 8-bit activations and one with `activation_bits`
// (weights at `weight_bits` in both). A routing LayerHooks then sends each
// quantization site (a conv/linear input, a residual-add operand) to one of
// the two, so any subset of sites runs at low bits on its own calibrated
// range. For every site it prints the mean cosine to the teacher's
// embeddings with only that site at low bits, and with every site but that
// one at low bits; then the totals for conv/linear inputs alone and add
// operands alone.
//
// Why a bench tool: it tells where a low-bit activation budget is lost
// (docs/BENCHMARKS.md), which the LFW accuracy of a whole student cannot.
#ifndef QUANTFACE_BENCH_QUANT_ACTIVATION_SENSITIVITY_H_
#define QUANTFACE_BENCH_QUANT_ACTIVATION_SENSITIVITY_H_

#include <cstdint>
#include <string>

namespace qf::bench {

struct ActivationSensitivityOptions {
  std::string teacher = "dlib-resnet";
  std::string asset_dir = ".cache/assets";
  int activation_bits = 4;
  int weight_bits = 8;
  std::string activation_ranges = "minmax";  // or "mse", as in quantize.
  int64_t images = 32;
  int threads = 2;
};

// Prints the table to stdout; returns a process exit status (errors go to
// stderr).
int ActivationSensitivity(const ActivationSensitivityOptions& options);

}  // namespace qf::bench

#endif  // QUANTFACE_BENCH_QUANT_ACTIVATION_SENSITIVITY_H_
