// Int8Model: integer inference of a packed low-bit model with LibTorch's
// quantized kernels (quantized::conv2d_prepack + apply), on the oneDNN
// engine when every layer's weights fit its symmetric int8 format (always
// for w <= 7 bits, and for 8-bit weights on the symmetric weight scheme),
// else on FBGEMM or QNNPACK, which take per-channel zero points (8-bit
// asymmetric weights; this Debian LibTorch has QNNPACK and oneDNN, no
// FBGEMM). LibTorch's quantized engine is one per process: Create() and
// Embed() take their turns on it (quantized_engine.h), so models on
// different engines can be loaded and run side by side.
//
// Why exact: weight codes (q - zero_point) are integers in
// [-(2^w - 1), 2^w - 1], activations are quint8 tensors whose values are
// clamped to the a-bit grid [0, 2^a - 1] of their quantizer, so a w<=7 / a<=8
// model runs on int8 kernels without any change of value. Each conv's int32
// accumulator is requantized straight onto the grid of the quantizer that
// consumes its output (with ReLU fused where the model has one), the same
// rounding the fake-quant student applies there; so the two agree up to the
// rounding of the kernels' int32 bias and requantization arithmetic (at 4
// bits the real dlib ResNet's embeddings come out bit-identical; at 8 bits,
// where grid steps are 16x finer, an occasional code lands one off).
//
// dlib-resnet's residual blocks stay integer between blocks: a block's
// output relu(residual + shortcut) is kept as its two quint8 add operands,
// and quantized::add_relu rounds their sum once onto each grid that
// consumes it (the next block's conv1 input and, if its range differs, its
// shortcut), which is what the fake-quant model's quantizers do to the
// float sum. Max pooling and zero padding act on codes (padding with the
// zero point, the code of 0.0).
//
// Ops without an integer kernel here, and why:
//   - the 2x2 average pool of a down block's shortcut runs in float on the
//     exact block output (dequantized add operands, added, ReLU), and is
//     then rounded once onto the shortcut's grid. An integer pool needs that
//     output on one 8-bit grid first, a second rounding on a grid up to 2x
//     coarser than the shortcut's (the pooled range is narrower): at 4 bits
//     that alone moved the embeddings by 20 % (int8_model_test); the four
//     down blocks' float work is 14-20 % of a batch-32 pass;
//   - the final global average pool and the fc run in float on the
//     dequantized last block output: the output is the float embedding, so
//     an 8-bit output grid would only add error, and both are < 0.1 % of the
//     FLOPs and time;
//   - faceres' final global pool runs on dequantized ReLU6 outputs (same
//     reason).
//
// Contract: Create() accepts packed models of "dlib-resnet" and "faceres";
// Embed() takes N x 3 x S x S float input (normalized as the model expects)
// and returns N x D raw embeddings, on the CPU. Errors come back as statuses.
#ifndef QUANTFACE_CORE_QUANT_INT8_MODEL_H_
#define QUANTFACE_CORE_QUANT_INT8_MODEL_H_

#include <ATen/native/quantized/PackedParams.h>
#include <torch/torch.h>

#include <limits>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/quant/packed_model.h"

namespace qf::quant {

class Int8Model {
 public:
  // Packs the convs for the engine chosen (engine() below) under a
  // PrepackScope, so it is safe while other Int8Models run.
  static absl::StatusOr<std::unique_ptr<Int8Model>> Create(const PackedModel& packed);
  // Whether Create() has a forward for models of `architecture`.
  static bool HasForward(const std::string& architecture);

  // Runs under a ForwardScope on the model's engine (quantized_engine.h).
  absl::StatusOr<torch::Tensor> Embed(const torch::Tensor& input);

  // "onednn", "fbgemm" or "qnnpack": the engine the convs were packed for.
  std::string engine() const;
  // Called with every quantized activation (dequantized values) under the
  // site names FakeQuantHooks::set_tap uses, for layer-by-layer comparison.
  void set_tap(FakeQuantHooks::Tap tap) { tap_ = std::move(tap); }
  const std::string& architecture() const { return architecture_; }

  // One prepared conv layer (public for the implementation's helpers).
  struct Conv {
    std::string name;
    c10::intrusive_ptr<ConvPackedParamsBase<2>> packed;
    double in_scale = 1;
    int64_t in_zero_point = 0;
    int64_t in_qmax = 255;
    int64_t stride = 1;
    int64_t kernel = 1;
  };
  // Where a conv's output goes: the consumer quantizer's grid.
  struct Grid {
    double scale = 1;
    int64_t zero_point = 0;
    int64_t qmax = 255;
    bool operator==(const Grid& other) const;
  };

  // Float -> quint8 on `grid`, clamped to its range first: the codes of the
  // fake quantizer (fake_quantize_per_tensor_affine) bit for bit; 4-d
  // results are channels-last, the kernels' layout.
  static torch::Tensor Quantize(const torch::Tensor& x, const Grid& grid);
  // quint8 -> float, the values of the codes (as Tensor::dequantize()).
  static torch::Tensor Dequantize(const torch::Tensor& q);
  // Zero padding of a quint8 tensor (F::pad's amounts, last dimension
  // first), done on its codes: pads with the zero point, the code of 0.0,
  // and keeps channels-last.
  static torch::Tensor PadCodes(const torch::Tensor& q, const std::vector<int64_t>& amounts);

 private:
  // Clamps quint8 codes to `grid`'s top code and to `max_value`.
  static torch::Tensor ClampToGrid(const torch::Tensor& q, const Grid& grid,
                                   double max_value = std::numeric_limits<double>::infinity());
  // quint8 in (on the conv's input grid) -> quint8 out on `out`.
  torch::Tensor RunConv(const Conv& conv, const torch::Tensor& qx, const Grid& out, bool relu,
                        double max_value = std::numeric_limits<double>::infinity()) const;
  Grid InputGrid(size_t conv) const;
  // The operands of a dlib residual add, each on its add quantizer's grid;
  // the block's output is relu(residual + shortcut).
  struct AddOperands {
    torch::Tensor residual;
    torch::Tensor shortcut;
  };
  // relu(residual + shortcut) rounded once onto `grid` (integer kernel).
  static torch::Tensor AddReluOnto(const AddOperands& sum, const Grid& grid);
  // relu(residual + shortcut) in float, exact.
  static torch::Tensor AddReluFloat(const AddOperands& sum);
  // nn::AlignDownBlockOperands for a quint8 residual and a float shortcut.
  static void AlignDownBlockOperands(torch::Tensor& residual, torch::Tensor& shortcut);
  torch::Tensor ForwardDlib(const torch::Tensor& input) const;
  torch::Tensor ForwardFaceRes(const torch::Tensor& input) const;

  std::string architecture_;
  at::QEngine engine_ = at::QEngine::NoQEngine;
  std::vector<Conv> convs_;                // In layer order.
  std::map<std::string, Grid> add_grids_;  // Add-operand quantizers by site.
  std::string fc_name_;
  Grid fc_input_;
  torch::Tensor fc_weight_;  // Dequantized (exact grid values), float.
  torch::Tensor fc_bias_;    // Undefined when the fc has none.
  FakeQuantHooks::Tap tap_;  // Empty unless diagnosing.
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_INT8_MODEL_H_
