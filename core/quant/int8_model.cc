#include "core/quant/int8_model.h"

#include <ATen/core/dispatch/Dispatcher.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <limits>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/nn/tf_ops.h"
#include "core/quant/affine.h"
#include "core/quant/quantized_engine.h"

namespace qf::quant {
namespace {

namespace F = torch::nn::functional;
using PackedConv = c10::intrusive_ptr<ConvPackedParamsBase<2>>;

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

bool Int8Model::HasForward(const std::string& architecture) {
  return architecture == nn::DlibResnet::kName || architecture == nn::FaceRes::kName;
}

absl::StatusOr<std::unique_ptr<Int8Model>> Int8Model::Create(const PackedModel& packed) {
  auto model = std::make_unique<Int8Model>();
  model->architecture_ = packed.model->spec().architecture;
  if (!HasForward(model->architecture_)) {
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
        model->fc_name_ = layer->name;
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
    if (fits_symmetric && QuantizedEngineSupported(at::QEngine::ONEDNN)) {
      engine = at::QEngine::ONEDNN;
    } else if (QuantizedEngineSupported(at::QEngine::FBGEMM)) {
      engine = at::QEngine::FBGEMM;
    } else if (QuantizedEngineSupported(at::QEngine::QNNPACK)) {
      engine = at::QEngine::QNNPACK;
    } else {
      return absl::UnimplementedError(
          "no quantized engine can hold these weights (oneDNN needs |q - zero_point| <= 127, "
          "neither FBGEMM nor QNNPACK is built in)");
    }
    model->engine_ = engine;
    const PrepackScope prepack_scope(engine);
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

std::string Int8Model::engine() const {
  switch (engine_) {
    case at::QEngine::ONEDNN:
      return "onednn";
    case at::QEngine::FBGEMM:
      return "fbgemm";
    case at::QEngine::QNNPACK:
      return "qnnpack";
    default:
      return "none";
  }
}

bool Int8Model::Grid::operator==(const Grid& other) const {
  return scale == other.scale && zero_point == other.zero_point && qmax == other.qmax;
}

Int8Model::Grid Int8Model::InputGrid(size_t conv) const {
  return Grid{convs_[conv].in_scale, convs_[conv].in_zero_point, convs_[conv].in_qmax};
}

torch::Tensor Int8Model::Quantize(const torch::Tensor& x, const Grid& grid) {
  // The fake quantizer's arithmetic (fake_quantize_per_tensor_affine):
  // code = clamp(zero_point + nearbyint(x * float(1 / scale)), 0, qmax), in
  // float32, which holds every step exactly. Done with multi-threaded
  // elementwise ops: at::quantize_per_tensor computes the same codes on one
  // thread (8 ms instead of 1.4 ms for 32 x 3 x 150 x 150 values here).
  const float inv_scale = 1.0f / static_cast<float>(grid.scale);
  const torch::Tensor codes =
      (x * static_cast<double>(inv_scale))
          .round_()
          .add_(static_cast<double>(grid.zero_point))
          .clamp_(0.0, static_cast<double>(grid.qmax))
          .to(torch::TensorOptions(torch::kByte)
                  .memory_format(x.dim() == 4 ? torch::MemoryFormat::ChannelsLast
                                              : torch::MemoryFormat::Contiguous));
  return at::_make_per_tensor_quantized_tensor(codes, grid.scale, grid.zero_point);
}

torch::Tensor Int8Model::Dequantize(const torch::Tensor& q) {
  // (code - zero_point) * scale in float32, as Tensor::dequantize() (and the
  // fake quantizer) compute it, but multi-threaded (dequantize() is not).
  return q.int_repr()
      .to(torch::kFloat)
      .sub_(static_cast<double>(q.q_zero_point()))
      .mul_(static_cast<double>(static_cast<float>(q.q_scale())));
}

torch::Tensor Int8Model::PadCodes(const torch::Tensor& q, const std::vector<int64_t>& amounts) {
  // Not F::pad on the quantized tensor: LibTorch 1.13 pads quantized tensors
  // on a slow generic path (80 % of faceres' batch-32 integer forward, its
  // five TF 'SAME' pads, in quant_bench speed --trace). A uint8 pad of the
  // codes is the same result at plain-tensor speed.
  const torch::Tensor codes =
      F::pad(q.int_repr(), F::PadFuncOptions(amounts).value(static_cast<double>(q.q_zero_point())))
          .contiguous(q.dim() == 4 ? torch::MemoryFormat::ChannelsLast
                                   : torch::MemoryFormat::Contiguous);
  return at::_make_per_tensor_quantized_tensor(codes, q.q_scale(), q.q_zero_point());
}

torch::Tensor Int8Model::ClampToGrid(const torch::Tensor& q, const Grid& grid, double max_value) {
  // Kernels saturate to the 8-bit codes [0, 255]; a low-bit consumer's grid
  // ends at code qmax, and ReLU6 at 6.0. Both bounds are grid points or get
  // rounded onto the grid, so clamping codes equals clamping values first.
  const double hi =
      std::min(max_value, static_cast<double>(grid.qmax - grid.zero_point) * grid.scale);
  if (grid.qmax >= 255 && max_value == std::numeric_limits<double>::infinity()) return q;
  if (at::globalContext().qEngine() == at::QEngine::QNNPACK) {
    // Not torch::clamp here: LibTorch 1.13's QNNPACK clamp wants both bounds,
    // and worse, it writes a channels_last input (every conv output) into a
    // contiguous output in the input's byte order, scrambling the tensor. So
    // clamp the codes; the bound rounds onto the grid as quantize_val would.
    const int64_t hi_code = std::clamp<int64_t>(
        q.q_zero_point() + static_cast<int64_t>(std::nearbyint(hi / q.q_scale())), 0, 255);
    return at::_make_per_tensor_quantized_tensor(q.int_repr().clamp_max_(hi_code), q.q_scale(),
                                                 q.q_zero_point());
  }
  return torch::clamp(q, c10::nullopt, hi);
}

torch::Tensor Int8Model::RunConv(const Conv& conv, const torch::Tensor& qx, const Grid& out,
                                 bool relu, double max_value) const {
  // Named in profiles (quant_bench speed --trace): apply() bypasses the
  // dispatcher, so the profiler would not see the kernel otherwise.
  RECORD_FUNCTION(conv.name, std::vector<c10::IValue>());
  if (tap_) tap_(conv.name, Dequantize(qx));
  // The int32 accumulator is requantized by the kernel straight onto the
  // consumer's grid: no float tensor between two integer layers.
  const torch::Tensor y = relu ? conv.packed->apply_relu(qx, out.scale, out.zero_point)
                               : conv.packed->apply(qx, out.scale, out.zero_point);
  return ClampToGrid(y, out, max_value);
}

torch::Tensor Int8Model::AddReluOnto(const AddOperands& sum, const Grid& grid) {
  static const auto add_relu =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("quantized::add_relu", "")
          .typed<torch::Tensor(torch::Tensor, torch::Tensor, double, int64_t)>();
  // The kernel adds the two dequantized operands and rounds the sum once
  // onto `grid`: what the consumer's fake quantizer does to the float sum.
  return ClampToGrid(add_relu.call(sum.residual, sum.shortcut, grid.scale, grid.zero_point), grid);
}

torch::Tensor Int8Model::AddReluFloat(const AddOperands& sum) {
  return Dequantize(sum.residual).add_(Dequantize(sum.shortcut)).relu_();
}

void Int8Model::AlignDownBlockOperands(torch::Tensor& residual, torch::Tensor& shortcut) {
  // nn::AlignDownBlockOperands with a quantized residual: its padding pads
  // the code zero_point, which is float zero, as the fake-quant model's
  // zeros become under its add quantizer. The float shortcut gets zero
  // channels before it is quantized, as in the fake-quant model.
  const int64_t pad_h = shortcut.size(2) - residual.size(2);
  const int64_t pad_w = shortcut.size(3) - residual.size(3);
  TORCH_CHECK(pad_h >= 0 && pad_w >= 0, "dlib-resnet: input too small");
  if (pad_h > 0 || pad_w > 0) residual = PadCodes(residual, {0, pad_w, 0, pad_h});
  const int64_t extra = residual.size(1) - shortcut.size(1);
  if (extra > 0) shortcut = F::pad(shortcut, F::PadFuncOptions({0, 0, 0, 0, 0, extra}));
}

torch::Tensor Int8Model::ForwardDlib(const torch::Tensor& input) const {
  const torch::Tensor qinput = Quantize(input, InputGrid(0));
  // The stem's output on `grid`; max pooling is exact on codes (it commutes
  // with the monotone rounding).
  const auto stem = [&](const Grid& grid) {
    return F::max_pool2d(RunConv(convs_[0], qinput, grid, /*relu=*/true),
                         F::MaxPool2dFuncOptions(3).stride(2));
  };
  // Between blocks the activation stays the pair of add operands, each an
  // integer tensor on its own grid: the block output relu(residual +
  // shortcut) is rounded once onto each grid that consumes it, as the fake-
  // quant model rounds the float sum once per quantizer.
  AddOperands sum;
  for (size_t i = 1; i + 1 < convs_.size(); i += 2) {
    const std::string block = BlockOf(convs_[i]);
    const bool down = absl::StrContains(block, "_down");
    const bool first = i == 1;
    TORCH_CHECK(!(first && down), "dlib-resnet: the first block is not a down block");
    const Grid in = InputGrid(i);
    const Grid& shortcut_grid = add_grids_.at(block + "/shortcut");
    const torch::Tensor xq = first ? stem(in) : AddReluOnto(sum, in);
    torch::Tensor residual = RunConv(convs_[i], xq, InputGrid(i + 1), /*relu=*/true);
    residual = RunConv(convs_[i + 1], residual, add_grids_.at(block + "/residual"), false);
    torch::Tensor shortcut;
    if (!down) {
      if (shortcut_grid == in) {
        shortcut = xq;  // Same quantizer range on the same tensor (the usual case).
      } else {
        // The same float output rounded onto a second grid (the shortcut's
        // range differs from conv1's, e.g. with 8-bit adds). The int8 conv
        // returns codes on one grid only, so the stem runs again: re-rounding
        // its codes would round twice, unlike the fake-quant model.
        shortcut = first ? stem(shortcut_grid) : AddReluOnto(sum, shortcut_grid);
      }
    } else {
      // The 2x2 average of the float block output, rounded once onto the
      // shortcut's grid. Float because no integer tensor holds that output
      // exactly: pooling an 8-bit rounding of it (e.g. a depthwise conv of
      // weight 1/4 over conv1's input) would round twice, on grids up to 2x
      // coarser than the shortcut's (the pooled range is narrower).
      RECORD_FUNCTION("int8::down_shortcut_float", std::vector<c10::IValue>());
      shortcut = F::avg_pool2d(AddReluFloat(sum), F::AvgPool2dFuncOptions(2).stride(2));
      AlignDownBlockOperands(residual, shortcut);
      shortcut = Quantize(shortcut, shortcut_grid);
    }
    sum = {residual, shortcut};
    if (tap_) {
      tap_(block + "/residual", Dequantize(residual));
      tap_(block + "/shortcut", Dequantize(shortcut));
    }
  }
  // Global pooling and the fc in float: see the header comment.
  const torch::Tensor pooled = FakeQuant(AddReluFloat(sum).mean({2, 3}), fc_input_);
  if (tap_) tap_(fc_name_, pooled);
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
      // TF 'SAME' zero padding, on codes: it pads with zero_point, the code
      // of float zero, which is what the fake quantizer makes of the zeros.
      xq = PadCodes(xq, nn::TfSamePadAmounts(xq, conv.kernel, conv.stride));
    }
    const Grid out = i + 1 < convs_.size() ? InputGrid(i + 1) : last;
    xq = RunConv(conv, xq, out, /*relu=*/true, /*max_value=*/6.0);  // ReLU6.
  }
  return Dequantize(xq).mean({2, 3});
}

absl::StatusOr<torch::Tensor> Int8Model::Embed(const torch::Tensor& input) {
  try {
    torch::NoGradGuard no_grad;
    const ForwardScope forward_scope(engine_);  // No engine switch under this forward.
    const torch::Tensor x = input.to(torch::kCPU).to(torch::kFloat).contiguous();
    if (architecture_ == nn::DlibResnet::kName) return ForwardDlib(x);
    return ForwardFaceRes(x);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("integer inference: ", e.what_without_backtrace()));
  }
}

}  // namespace qf::quant
