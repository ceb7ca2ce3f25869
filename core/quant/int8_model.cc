#include "core/quant/int8_model.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/nn/tf_ops.h"
#include "core/quant/affine.h"

namespace qf::quant {
namespace {

namespace F = torch::nn::functional;
using PackedConv = c10::intrusive_ptr<ConvPackedParamsBase<2>>;

bool EngineSupported(at::QEngine engine) {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), engine) != engines.end();
}

PackedConv Prepack(const torch::Tensor& qweight, const c10::optional<torch::Tensor>& bias,
                   const torch::nn::detail::ConvNdOptions<2>& o, int64_t padding) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::conv2d_prepack", "")
          .typed<PackedConv(torch::Tensor, c10::optional<torch::Tensor>, torch::List<int64_t>,
                            torch::List<int64_t>, torch::List<int64_t>, int64_t)>();
  return op.call(qweight, bias, torch::List<int64_t>({o.stride()->at(0), o.stride()->at(1)}),
                 torch::List<int64_t>({padding, padding}),
                 torch::List<int64_t>({o.dilation()->at(0), o.dilation()->at(1)}), o.groups());
}

Int8Model::Grid GridOf(const ActivationQuantizer& q) {
  Int8Model::Grid grid;
  if (!q.initialized()) return grid;
  const AffineParams p = q.Params();
  grid.scale = p.scale.item<double>();
  grid.zero_point = p.zero_point.item<int64_t>();
  grid.qmax = QuantMax(q.bits());
  return grid;
}

// "<block>" of a block's first conv "<block>_conv1".
std::string BlockOf(const Int8Model::Conv& conv1) {
  return conv1.name.substr(0, conv1.name.size() - std::string("_conv1").size());
}

torch::Tensor FakeQuant(const torch::Tensor& x, const Int8Model::Grid& g) {
  return torch::fake_quantize_per_tensor_affine(x, g.scale, g.zero_point, 0, g.qmax);
}

}  // namespace

absl::StatusOr<std::unique_ptr<Int8Model>> Int8Model::Create(const PackedModel& packed) {
  auto model = std::make_unique<Int8Model>();
  model->architecture_ = packed.model->spec().architecture;
  if (model->architecture_ != nn::DlibResnet::kName && model->architecture_ != nn::FaceRes::kName) {
    return absl::UnimplementedError(
        absl::StrCat("no integer forward for '", model->architecture_, "'"));
  }
  try {
    torch::NoGradGuard no_grad;
    std::map<std::string, std::shared_ptr<torch::nn::Module>> modules;
    for (const auto& item : packed.model->named_modules("", false))
      modules[item.key()] = item.value();
    // Integer weight values (q - zero_point) per layer, to choose the engine.
    struct Pending {
      const FakeQuantHooks::Layer* layer;
      torch::Tensor ints;  // int64, weight shape.
      torch::Tensor scale;
      torch::Tensor zero_point;
    };
    std::vector<Pending> pending;
    bool fits_symmetric = true;
    for (const FakeQuantHooks::Layer* layer : packed.hooks->layers()) {
      const auto it = modules.find(layer->name);
      if (it == modules.end() || !layer->frozen_weight_params.has_value()) {
        return absl::FailedPreconditionError(
            absl::StrCat("layer ", layer->name, " has no packed weights"));
      }
      if (auto* linear = dynamic_cast<torch::nn::LinearImpl*>(it->second.get())) {
        model->fc_input_ = GridOf(*layer->input);
        model->fc_weight_ = linear->weight.detach().clone();
        if (linear->bias.defined()) model->fc_bias_ = linear->bias.detach().clone();
        continue;
      }
      auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(it->second.get());
      if (conv == nullptr) return absl::InternalError(absl::StrCat("odd layer ", layer->name));
      const AffineParams& p = *layer->frozen_weight_params;
      const torch::Tensor ints =
          torch::round(conv->weight.detach() / p.scale.view({-1, 1, 1, 1})).to(torch::kLong);
      fits_symmetric = fits_symmetric && ints.abs().max().item<int64_t>() <= 127;
      pending.push_back({layer, ints, p.scale, p.zero_point});
    }
    at::QEngine engine;
    if (fits_symmetric && EngineSupported(at::QEngine::ONEDNN)) {
      engine = at::QEngine::ONEDNN;
      model->engine_ = "onednn";
    } else if (EngineSupported(at::QEngine::FBGEMM)) {
      engine = at::QEngine::FBGEMM;
      model->engine_ = "fbgemm";
    } else if (EngineSupported(at::QEngine::QNNPACK)) {
      engine = at::QEngine::QNNPACK;
      model->engine_ = "qnnpack";
    } else {
      return absl::UnimplementedError(
          "no quantized engine can hold these weights (oneDNN needs |q - zero_point| <= 127, "
          "neither FBGEMM nor QNNPACK is built in)");
    }
    at::globalContext().setQEngine(engine);
    for (const Pending& p : pending) {
      auto* conv = dynamic_cast<torch::nn::Conv2dImpl*>(modules.at(p.layer->name).get());
      torch::Tensor qweight;
      if (engine == at::QEngine::ONEDNN) {
        // Symmetric: stored value q - zero_point, zero point 0.
        qweight = at::_make_per_channel_quantized_tensor(
            p.ints.to(torch::kChar), p.scale.to(torch::kDouble),
            torch::zeros_like(p.zero_point, torch::kLong), 0);
      } else {
        // Affine (FBGEMM, QNNPACK): stored value q - 128 with zero point
        // zero_point - 128, so that 8-bit codes 0..255 fit int8.
        const torch::Tensor zp = p.zero_point.to(torch::kLong) - 128;
        qweight = at::_make_per_channel_quantized_tensor(
            (p.ints + zp.view({-1, 1, 1, 1})).to(torch::kChar), p.scale.to(torch::kDouble), zp, 0);
      }
      const auto& o = conv->options;
      const auto* explicit_padding = c10::get_if<torch::ExpandingArray<2>>(&o.padding());
      if (explicit_padding == nullptr) {
        return absl::UnimplementedError(absl::StrCat(p.layer->name, ": 'same'/'valid' padding"));
      }
      const int64_t padding = (*explicit_padding)->at(0);
      c10::optional<torch::Tensor> bias;
      if (conv->bias.defined()) bias = conv->bias.detach().clone();
      Conv prepared;
      prepared.name = p.layer->name;
      prepared.packed = Prepack(qweight, bias, o, padding);
      const Grid in = GridOf(*p.layer->input);
      prepared.in_scale = in.scale;
      prepared.in_zero_point = in.zero_point;
      prepared.in_qmax = in.qmax;
      prepared.stride = o.stride()->at(0);
      prepared.kernel = o.kernel_size()->at(0);
      model->convs_.push_back(std::move(prepared));
    }
    for (const auto& [site, q] : packed.hooks->add_operands()) model->add_grids_[site] = GridOf(*q);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("preparing integer kernels: ", e.what_without_backtrace()));
  }
  return model;
}

bool Int8Model::Grid::operator==(const Grid& other) const {
  return scale == other.scale && zero_point == other.zero_point && qmax == other.qmax;
}

Int8Model::Grid Int8Model::InputGrid(size_t conv) const {
  return Grid{convs_[conv].in_scale, convs_[conv].in_zero_point, convs_[conv].in_qmax};
}

torch::Tensor Int8Model::Quantize(const torch::Tensor& x, const Grid& grid) {
  // Clamp to the quantizer's range (what the fake quantizer does), then
  // round onto its grid.
  const double lo = static_cast<double>(0 - grid.zero_point) * grid.scale;
  const double hi = static_cast<double>(grid.qmax - grid.zero_point) * grid.scale;
  return at::quantize_per_tensor(x.clamp(lo, hi).contiguous(), grid.scale, grid.zero_point,
                                 torch::kQUInt8);
}

torch::Tensor Int8Model::ClampToGrid(const torch::Tensor& q, const Grid& grid, double max_value) {
  // Kernels saturate to the 8-bit codes [0, 255]; a low-bit consumer's grid
  // ends at code qmax, and ReLU6 at 6.0. Both bounds are grid points or get
  // rounded onto the grid, so clamping codes equals clamping values first.
  const double hi =
      std::min(max_value, static_cast<double>(grid.qmax - grid.zero_point) * grid.scale);
  if (grid.qmax >= 255 && max_value == std::numeric_limits<double>::infinity()) return q;
  return torch::clamp(q, c10::nullopt, hi);
}

torch::Tensor Int8Model::RunConv(const Conv& conv, const torch::Tensor& qx, const Grid& out,
                                 bool relu, double max_value) const {
  // The int32 accumulator is requantized by the kernel straight onto the
  // consumer's grid: no float tensor between two integer layers.
  const torch::Tensor y = relu ? conv.packed->apply_relu(qx, out.scale, out.zero_point)
                               : conv.packed->apply(qx, out.scale, out.zero_point);
  return ClampToGrid(y, out, max_value);
}

bool Int8Model::TakesIntegerShortcut(size_t conv1) const {
  if (conv1 + 1 >= convs_.size()) return false;  // Past the last block.
  const std::string block = BlockOf(convs_[conv1]);
  return !absl::StrContains(block, "_down") &&
         InputGrid(conv1) == add_grids_.at(block + "/shortcut");
}

torch::Tensor Int8Model::ForwardDlib(const torch::Tensor& input) const {
  static const auto add_relu =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::add_relu", "")
          .typed<torch::Tensor(torch::Tensor, torch::Tensor, double, int64_t)>();
  torch::Tensor xq = RunConv(convs_[0], Quantize(input, InputGrid(0)), InputGrid(1), true);
  xq = F::max_pool2d(xq, F::MaxPool2dFuncOptions(3).stride(2));  // Exact on codes.
  torch::Tensor x;  // The block input in float, when the last add ran in float.
  for (size_t i = 1; i + 1 < convs_.size(); i += 2) {
    const std::string block = BlockOf(convs_[i]);
    const bool down = absl::StrContains(block, "_down");
    if (!xq.defined()) xq = Quantize(x, InputGrid(i));
    torch::Tensor out = RunConv(convs_[i], xq, InputGrid(i + 1), /*relu=*/true);
    out = RunConv(convs_[i + 1], out, add_grids_.at(block + "/residual"), /*relu=*/false);
    if (TakesIntegerShortcut(i) && TakesIntegerShortcut(i + 2)) {
      // Integer add: the shortcut is the block input on its own grid, and
      // the sum is requantized onto the next block's input grid, where the
      // fake-quant model's next quantizers round it.
      const Grid next = InputGrid(i + 2);
      xq = ClampToGrid(add_relu.call(out, xq, next.scale, next.zero_point), next);
      x = torch::Tensor();
      continue;
    }
    // Float add: the shortcut takes its own rounding of the float input (or
    // of its average pool), as in the fake-quant model.
    if (!x.defined()) x = xq.dequantize();
    torch::Tensor shortcut = down ? F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).stride(2)) : x;
    torch::Tensor residual = out.dequantize();
    if (down) nn::AlignDownBlockOperands(residual, shortcut);
    x = torch::relu(residual + FakeQuant(shortcut, add_grids_.at(block + "/shortcut")));
    xq = torch::Tensor();
  }
  if (!x.defined()) x = xq.dequantize();
  const torch::Tensor pooled = FakeQuant(x.mean({2, 3}), fc_input_);
  return F::linear(pooled, fc_weight_, fc_bias_);
}

torch::Tensor Int8Model::ForwardFaceRes(const torch::Tensor& input) const {
  // The last conv has no quantized consumer: its ReLU6 output goes to the
  // global pool, so it is requantized onto a fine 8-bit grid over [0, 6].
  const Grid last{6.0 / 255.0, 0, 255};
  torch::Tensor xq = Quantize(input, InputGrid(0));
  for (size_t i = 0; i < convs_.size(); ++i) {
    const Conv& conv = convs_[i];
    if (conv.stride > 1) {
      // TF 'SAME' zero padding: float zero is the code zero_point.
      // Zero is a point of every grid, so padding in float is exact.
      xq = Quantize(nn::TfSamePad(xq.dequantize(), conv.kernel, conv.stride), InputGrid(i));
    }
    const Grid out = i + 1 < convs_.size() ? InputGrid(i + 1) : last;
    xq = RunConv(conv, xq, out, /*relu=*/true, /*max_value=*/6.0);  // ReLU6.
  }
  return xq.dequantize().mean({2, 3});
}

absl::StatusOr<torch::Tensor> Int8Model::Embed(const torch::Tensor& input) {
  try {
    torch::NoGradGuard no_grad;
    const torch::Tensor x = input.to(torch::kCPU).to(torch::kFloat).contiguous();
    if (architecture_ == nn::DlibResnet::kName) return ForwardDlib(x);
    return ForwardFaceRes(x);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("integer inference: ", e.what_without_backtrace()));
  }
}

}  // namespace qf::quant
