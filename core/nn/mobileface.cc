#include "core/nn/mobileface.h"

#include <filesystem>
#include <iterator>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::nn {
namespace {

constexpr int64_t kStemChannels = 32;
constexpr int64_t kEmbeddingDim = 256;
constexpr int64_t kFinalChannels = 128;
constexpr int64_t kFinalSize = 4;  // 112 halved by five stride-2 layers, rounding up.
constexpr int64_t kStageChannels[] = {32, 32, 64, 128};

torch::nn::Conv2d MakeConv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                           int64_t groups) {
  // The graph pads every 3x3 conv by one pixel on each side (explicit Pad
  // nodes) before a 'VALID' conv: LibTorch's symmetric padding.
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(kernel / 2)
                               .groups(groups)
                               .bias(false));
}

torch::nn::PReLU MakePrelu(int64_t channels) {
  return torch::nn::PReLU(torch::nn::PReLUOptions().num_parameters(channels));
}

using Assignments = std::vector<std::pair<torch::Tensor, torch::Tensor>>;

absl::Status LoadKernel(const TfjsGraphModel& graph, const std::string& name, bool depthwise,
                        const torch::nn::Conv2d& conv, Assignments& out) {
  const int64_t out_ch = conv->weight.size(0);
  const int64_t in_ch = conv->weight.size(1);
  const int64_t k = conv->weight.size(2);
  const int64_t stride = conv->options.stride()->at(0);
  QF_RETURN_IF_ERROR(
      graph.ExpectConv(name, depthwise ? "DepthwiseConv2dNative" : "Conv2D", stride, "VALID"));
  if (depthwise) {
    QF_ASSIGN_OR_RETURN(const torch::Tensor kernel, graph.Weight(name, {k, k, out_ch, 1}));
    out.emplace_back(conv->weight, TfjsDepthwiseKernelToTorch(kernel));
  } else {
    QF_ASSIGN_OR_RETURN(const torch::Tensor kernel, graph.Weight(name, {k, k, in_ch, out_ch}));
    out.emplace_back(conv->weight, TfjsConvKernelToTorch(kernel));
  }
  return absl::OkStatus();
}

absl::Status LoadPrelu(const TfjsGraphModel& graph, const std::string& name,
                       const torch::nn::PReLU& prelu, Assignments& out) {
  QF_ASSIGN_OR_RETURN(const torch::Tensor gamma, graph.Weight(name, {prelu->weight.size(0)}));
  out.emplace_back(prelu->weight, gamma);
  return absl::OkStatus();
}

// The graph's constants that the port hard-codes: every Pad is one pixel on
// each spatial side, every PReLU splits at 0, flatten gives 2048 features.
absl::Status ExpectGraphConstants(const TfjsGraphModel& graph) {
  const torch::Tensor one_pixel =
      torch::tensor({0, 0, 1, 1, 1, 1, 0, 0}, torch::kInt32).view({4, 2});
  int pads = 0;
  for (const auto& [name, value] : graph.weights()) {
    const bool is_pad = absl::StartsWith(name, "Pad") && absl::EndsWith(name, "/paddings");
    const bool is_split =
        (absl::StartsWith(name, "Maximum") || absl::StartsWith(name, "Minimum")) &&
        absl::EndsWith(name, "/x");
    if (is_pad) {
      ++pads;
      if (!value.sizes().equals({4, 2}) || !torch::equal(value, one_pixel)) {
        return absl::FailedPreconditionError(
            absl::StrCat(graph.origin(), ": ", name, " is not a one-pixel spatial pad"));
      }
    } else if (is_split && (value.numel() != 1 || value.item<float>() != 0.f)) {
      return absl::FailedPreconditionError(
          absl::StrCat(graph.origin(), ": PReLU constant ", name, " is not 0"));
    }
  }
  if (pads != 1 + 3 * static_cast<int>(std::size(kStageChannels))) {
    return absl::FailedPreconditionError(
        absl::StrCat(graph.origin(), ": ", pads, " Pad nodes, the port has 13 padded convs"));
  }
  QF_ASSIGN_OR_RETURN(const torch::Tensor flatten, graph.Weight("flatten/Const", {2}));
  if (flatten[1].item<int>() != kFinalChannels * kFinalSize * kFinalSize) {
    return absl::FailedPreconditionError(
        absl::StrCat(graph.origin(), ": flatten to ", flatten[1].item<int>(), " features"));
  }
  return absl::OkStatus();
}

}  // namespace

ModelSpec MobileFace::Spec() {
  ModelSpec spec;
  spec.architecture = kName;
  spec.embedding_dim = kEmbeddingDim;
  spec.input.size = 112;
  spec.input.landmark_template = ArcFaceTemplate(112);
  spec.input.channel_order = ChannelOrder::kRgb;
  spec.input.mean = {0.f, 0.f, 0.f};  // The net normalizes internally.
  spec.input.scale = {1.f, 1.f, 1.f};
  return spec;
}

MobileFace::MobileFace() : spec_(Spec()) {
  input_mean_ = register_buffer("input_mean", torch::full({1}, 127.5f));
  input_scale_ = register_buffer("input_scale", torch::full({1}, 0.0078125f));
  conv1_ = register_module("conv1", MakeConv(3, kStemChannels, 3, 2, 1));
  prelu1_ = register_module("prelu1", MakePrelu(kStemChannels));
  int64_t in = kStemChannels;
  for (size_t s = 0; s < std::size(kStageChannels); ++s) {
    const int64_t ch = kStageChannels[s];
    const std::string prefix = absl::StrCat("stage", s + 1, "_unit1_");
    Unit unit;
    unit.expand = register_module(prefix + "conv0_0", MakeConv(in, ch, 1, 1, 1));
    unit.down = register_module(prefix + "conv0_1", MakeConv(ch, ch, 3, 2, ch));
    unit.down_act = register_module(prefix + "prelu0", MakePrelu(ch));
    unit.conv1 = register_module(prefix + "conv1", MakeConv(ch, ch, 3, 1, ch));
    unit.conv1_act = register_module(prefix + "prelu1", MakePrelu(ch));
    unit.conv2 = register_module(prefix + "conv2", MakeConv(ch, ch, 3, 1, ch));
    unit.conv2_act = register_module(prefix + "prelu2", MakePrelu(ch));
    units_.push_back(std::move(unit));
    in = ch;
  }
  fc_ = register_module("fc",
                        torch::nn::Linear(kFinalChannels * kFinalSize * kFinalSize, kEmbeddingDim));
}

absl::StatusOr<std::shared_ptr<MobileFace>> MobileFace::FromAssets(const std::string& asset_dir) {
  QF_ASSIGN_OR_RETURN(
      const TfjsGraphModel graph,
      TfjsGraphModel::Load((std::filesystem::path(asset_dir) / kModelPath).string()));
  auto model = std::make_shared<MobileFace>();
  QF_RETURN_IF_ERROR(model->LoadTfjsGraph(graph));
  model->eval();
  return model;
}

absl::Status MobileFace::LoadTfjsGraph(const TfjsGraphModel& graph) {
  try {
    QF_RETURN_IF_ERROR(ExpectGraphConstants(graph));
    Assignments assignments;
    QF_ASSIGN_OR_RETURN(const torch::Tensor mean, graph.Weight("minusscalar0_second", {1}));
    QF_ASSIGN_OR_RETURN(const torch::Tensor scale, graph.Weight("mulscalar0_second", {1}));
    assignments.emplace_back(input_mean_, mean);
    assignments.emplace_back(input_scale_, scale);
    QF_RETURN_IF_ERROR(LoadKernel(graph, "conv1_weight", false, conv1_, assignments));
    QF_RETURN_IF_ERROR(LoadPrelu(graph, "prelu1_gamma", prelu1_, assignments));
    for (size_t s = 0; s < units_.size(); ++s) {
      const Unit& unit = units_[s];
      const std::string prefix = absl::StrCat("stage", s + 1, "_unit1_");
      QF_RETURN_IF_ERROR(
          LoadKernel(graph, prefix + "conv0_0_weight", false, unit.expand, assignments));
      QF_RETURN_IF_ERROR(LoadKernel(graph, prefix + "conv0_1_df", true, unit.down, assignments));
      QF_RETURN_IF_ERROR(LoadPrelu(graph, prefix + "prelu0_gamma", unit.down_act, assignments));
      QF_RETURN_IF_ERROR(LoadKernel(graph, prefix + "conv1_df", true, unit.conv1, assignments));
      QF_RETURN_IF_ERROR(LoadPrelu(graph, prefix + "prelu1_gamma", unit.conv1_act, assignments));
      QF_RETURN_IF_ERROR(LoadKernel(graph, prefix + "conv2_df", true, unit.conv2, assignments));
      QF_RETURN_IF_ERROR(LoadPrelu(graph, prefix + "prelu2_gamma", unit.conv2_act, assignments));
    }
    // dense/kernel rows are in NHWC flatten order (h, w, c); ours flattens
    // NCHW (c, h, w). batchnorm0 is y * mul + sub per output feature.
    constexpr int64_t kFeatures = kFinalChannels * kFinalSize * kFinalSize;
    QF_ASSIGN_OR_RETURN(const torch::Tensor dense,
                        graph.Weight("dense/kernel", {kFeatures, kEmbeddingDim}));
    QF_ASSIGN_OR_RETURN(const torch::Tensor bn_mul,
                        graph.Weight("batchnorm0/mul", {kEmbeddingDim}));
    QF_ASSIGN_OR_RETURN(const torch::Tensor bn_sub,
                        graph.Weight("batchnorm0/sub", {kEmbeddingDim}));
    const torch::Tensor weight = dense.view({kFinalSize, kFinalSize, kFinalChannels, kEmbeddingDim})
                                     .permute({3, 2, 0, 1})
                                     .reshape({kEmbeddingDim, kFeatures});
    assignments.emplace_back(fc_->weight, weight * bn_mul.view({-1, 1}));
    assignments.emplace_back(fc_->bias, bn_sub);
    torch::NoGradGuard no_grad;
    for (auto& [param, value] : assignments) param.copy_(value);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(graph.origin(), ": loading mobileface weights: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

torch::Tensor MobileFace::forward(torch::Tensor input) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == 3,
              "mobileface expects N x 3 x 112 x 112 input, got ", input.sizes());
  torch::Tensor x = (input - input_mean_) * input_scale_;
  x = prelu1_(conv1_(x));
  for (Unit& unit : units_) {
    const torch::Tensor y = unit.down_act(unit.down(unit.expand(x)));
    x = unit.conv2_act(unit.conv2(unit.conv1_act(unit.conv1(y)))) + y;
  }
  TORCH_CHECK(x.size(2) == kFinalSize && x.size(3) == kFinalSize,
              "mobileface: final feature map is ", x.sizes(), ", expected 112x112 input");
  return fc_(x.flatten(1));
}

}  // namespace qf::nn
