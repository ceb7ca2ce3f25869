#include "core/quant/int8_model.h"

#include <ATen/core/dispatch/Dispatcher.h>

#include <algorithm>
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

torch::Tensor Int8Model::RunConv(const Conv& conv, const torch::Tensor& x, const Grid& out,
                                 bool relu) const {
  // Clamp to the input quantizer's range (what the fake quantizer does),
  // then quantize: values already on this grid are unchanged.
  const double lo = (0 - conv.in_zero_point) * conv.in_scale;
  const double hi = static_cast<double>(conv.in_qmax - conv.in_zero_point) * conv.in_scale;
  const torch::Tensor qx = at::quantize_per_tensor(x.clamp(lo, hi).contiguous(), conv.in_scale,
                                                   conv.in_zero_point, torch::kQUInt8);
  torch::Tensor y = relu ? conv.packed->apply_relu(qx, out.scale, out.zero_point)
                         : conv.packed->apply(qx, out.scale, out.zero_point);
  if (out.qmax < 255) {
    // A low-bit consumer: clamp the codes onto its [0, 2^a - 1] grid.
    y = at::_make_per_tensor_quantized_tensor(y.int_repr().clamp_max_(out.qmax), out.scale,
                                              out.zero_point);
  }
  return y.dequantize();
}

torch::Tensor Int8Model::ForwardDlib(const torch::Tensor& input) const {
  const auto grid_of = [&](size_t i) {
    return Grid{convs_[i].in_scale, convs_[i].in_zero_point, convs_[i].in_qmax};
  };
  torch::Tensor x = RunConv(convs_[0], input, grid_of(1), /*relu=*/true);
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
  for (size_t i = 1; i + 1 < convs_.size(); i += 2) {
    const std::string block = convs_[i].name.substr(0, convs_[i].name.size() - 6);  // "_conv1".
    const bool down = absl::StrContains(block, "_down");
    torch::Tensor out = RunConv(convs_[i], x, grid_of(i + 1), /*relu=*/true);
    out = RunConv(convs_[i + 1], out, add_grids_.at(block + "/residual"), /*relu=*/false);
    torch::Tensor shortcut = x;
    if (down) {
      shortcut = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).stride(2));
      nn::AlignDownBlockOperands(out, shortcut);
    }
    x = torch::relu(out + FakeQuant(shortcut, add_grids_.at(block + "/shortcut")));
  }
  const torch::Tensor pooled = FakeQuant(x.mean({2, 3}), fc_input_);
  return F::linear(pooled, fc_weight_, fc_bias_);
}

torch::Tensor Int8Model::ForwardFaceRes(const torch::Tensor& input) const {
  // The last conv has no quantized consumer: its ReLU6 output goes to the
  // global pool, so it is requantized onto a fine 8-bit grid over [0, 6].
  const Grid last{6.0 / 255.0, 0, 255};
  torch::Tensor x = input;
  for (size_t i = 0; i < convs_.size(); ++i) {
    const Conv& conv = convs_[i];
    if (conv.stride > 1) x = nn::TfSamePad(x, conv.kernel, conv.stride);
    const Grid out =
        i + 1 < convs_.size()
            ? Grid{convs_[i + 1].in_scale, convs_[i + 1].in_zero_point, convs_[i + 1].in_qmax}
            : last;
    x = RunConv(conv, x, out, /*relu=*/true).clamp_max(6.0);  // ReLU6.
  }
  return x.mean({2, 3});
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
