#include "core/nn/faceres.h"

#include <algorithm>
#include <filesystem>
#include <iterator>
#include <utility>

#include "absl/strings/str_cat.h"
#include "core/nn/tf_ops.h"
#include "core/util/status_macros.h"

namespace qf::nn {
namespace {

namespace F = torch::nn::functional;

constexpr int64_t kStemChannels = 32;
constexpr int64_t kEmbeddingDim = 1024;

// Depthwise-separable layers 1..13: output channels of the pointwise conv and
// stride of the depthwise conv (MobileNet v1, width 1.0).
struct LayerShape {
  int64_t channels;
  int64_t stride;
};
constexpr LayerShape kLayers[] = {
    {64, 1},  {128, 2}, {128, 1}, {256, 2}, {256, 1},  {512, 2},  {512, 1},
    {512, 1}, {512, 1}, {512, 1}, {512, 1}, {1024, 2}, {1024, 1},
};

// Stride-1 3x3 convs pad 1 on every side, TF 'SAME' and LibTorch alike. For
// stride 2 TF pads (total / 2) before and the rest after, so the conv itself
// gets no padding and the forward pass pads explicitly (TfSamePad).
torch::nn::Conv2d MakeConv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                           int64_t groups) {
  const int64_t padding = stride == 1 ? kernel / 2 : 0;
  return torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, kernel)
                               .stride(stride)
                               .padding(padding)
                               .groups(groups)
                               .bias(true));
}

torch::Tensor Relu6(const torch::Tensor& x) { return torch::clamp(x, 0.0, 6.0); }

// The graph's ReLU6 is Relu -> Minimum(<layer>_relu/Cast) -> Maximum(<layer>_relu/Const_1).
absl::Status ExpectRelu6(const TfjsGraphModel& graph, const std::string& layer) {
  QF_ASSIGN_OR_RETURN(const float upper, graph.Scalar(layer + "_relu/Cast"));
  QF_ASSIGN_OR_RETURN(const float lower, graph.Scalar(layer + "_relu/Const_1"));
  if (upper != 6.f || lower != 0.f) {
    return absl::FailedPreconditionError(absl::StrCat(graph.origin(), ": ", layer, " clips to [",
                                                      lower, ", ", upper, "], the port to [0, 6]"));
  }
  return absl::OkStatus();
}

using Assignments = std::vector<std::pair<torch::Tensor, torch::Tensor>>;

// A regular conv whose kernel already carries the folded batch norm scale;
// the bias is the batch norm's `sub` constant.
absl::Status LoadConv(const TfjsGraphModel& graph, const std::string& layer,
                      const torch::nn::Conv2d& conv, Assignments& out) {
  const int64_t out_ch = conv->weight.size(0);
  const int64_t in_ch = conv->weight.size(1);
  const int64_t k = conv->weight.size(2);
  const int64_t stride = conv->options.stride()->at(0);
  const std::string kernel_name = layer + "/convolution/merged_input";
  QF_RETURN_IF_ERROR(graph.ExpectConv(kernel_name, "Conv2D", stride, "SAME"));
  QF_ASSIGN_OR_RETURN(const torch::Tensor kernel, graph.Weight(kernel_name, {k, k, in_ch, out_ch}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor bias,
                      graph.Weight(layer + "_bn/batchnorm_1/sub", {out_ch}));
  QF_RETURN_IF_ERROR(ExpectRelu6(graph, layer));
  out.emplace_back(conv->weight, TfjsConvKernelToTorch(kernel));
  out.emplace_back(conv->bias, bias);
  return absl::OkStatus();
}

// A depthwise conv followed by the batch norm's per-channel mul and add,
// folded into W * mul and bias = add.
absl::Status LoadDepthwise(const TfjsGraphModel& graph, const std::string& layer,
                           const torch::nn::Conv2d& conv, Assignments& out) {
  const int64_t ch = conv->weight.size(0);
  const int64_t k = conv->weight.size(2);
  const int64_t stride = conv->options.stride()->at(0);
  const std::string kernel_name = layer + "/depthwise_kernel";
  QF_RETURN_IF_ERROR(graph.ExpectConv(kernel_name, "DepthwiseConv2dNative", stride, "SAME"));
  QF_ASSIGN_OR_RETURN(const torch::Tensor kernel, graph.Weight(kernel_name, {k, k, ch, 1}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor scale, graph.Weight(layer + "_bn/batchnorm_1/mul", {ch}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor bias, graph.Weight(layer + "_bn/batchnorm_1/sub", {ch}));
  QF_RETURN_IF_ERROR(ExpectRelu6(graph, layer));
  out.emplace_back(conv->weight, TfjsDepthwiseKernelToTorch(kernel) * scale.view({-1, 1, 1, 1}));
  out.emplace_back(conv->bias, bias);
  return absl::OkStatus();
}

}  // namespace

ModelSpec FaceRes::Spec() {
  ModelSpec spec;
  spec.architecture = kName;
  spec.embedding_dim = kEmbeddingDim;
  spec.input.size = 224;
  spec.input.landmark_template = ArcFaceTemplate(224);
  spec.input.channel_order = ChannelOrder::kBgr;
  spec.input.mean = {93.5940f, 104.7624f, 129.1863f};  // B, G, R (VGGFace2).
  spec.input.scale = {1.f, 1.f, 1.f};
  return spec;
}

FaceRes::FaceRes() : spec_(Spec()) {
  conv1_ = register_module("conv1", MakeConv(3, kStemChannels, 3, 2, 1));
  int64_t in = kStemChannels;
  for (size_t i = 0; i < std::size(kLayers); ++i) {
    const LayerShape& layer = kLayers[i];
    const std::string index = std::to_string(i + 1);
    depthwise_.push_back(
        register_module("conv_dw_" + index, MakeConv(in, in, 3, layer.stride, in)));
    pointwise_.push_back(
        register_module("conv_pw_" + index, MakeConv(in, layer.channels, 1, 1, 1)));
    in = layer.channels;
  }
}

absl::StatusOr<std::shared_ptr<FaceRes>> FaceRes::FromAssets(const std::string& asset_dir) {
  QF_ASSIGN_OR_RETURN(
      const TfjsGraphModel graph,
      TfjsGraphModel::Load((std::filesystem::path(asset_dir) / kModelPath).string()));
  auto model = std::make_shared<FaceRes>();
  QF_RETURN_IF_ERROR(model->LoadTfjsGraph(graph));
  model->eval();
  return model;
}

absl::Status FaceRes::LoadTfjsGraph(const TfjsGraphModel& graph) {
  try {
    Assignments assignments;
    QF_RETURN_IF_ERROR(LoadConv(graph, "conv1", conv1_, assignments));
    for (size_t i = 0; i < depthwise_.size(); ++i) {
      const std::string index = std::to_string(i + 1);
      QF_RETURN_IF_ERROR(LoadDepthwise(graph, "conv_dw_" + index, depthwise_[i], assignments));
      QF_RETURN_IF_ERROR(LoadConv(graph, "conv_pw_" + index, pointwise_[i], assignments));
    }
    QF_ASSIGN_OR_RETURN(const std::string pool_op, graph.NodeOp("global_pooling/Mean"));
    if (pool_op != "Mean") {
      return absl::FailedPreconditionError(
          absl::StrCat(graph.origin(), ": global_pooling/Mean is ", pool_op, ", not Mean"));
    }
    torch::NoGradGuard no_grad;
    for (auto& [param, value] : assignments) param.copy_(value);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat(graph.origin(), ": loading faceres weights: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

torch::Tensor FaceRes::ConvSame(torch::nn::Conv2d& conv, const torch::Tensor& x) {
  const int64_t stride = conv->options.stride()->at(0);
  if (stride == 1) return RunConv(conv, x);
  return RunConv(conv, TfSamePad(x, conv->options.kernel_size()->at(0), stride));
}

torch::Tensor FaceRes::forward(torch::Tensor input) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == 3,
              "faceres expects N x 3 x 224 x 224 input, got ", input.sizes());
  torch::Tensor x = Relu6(ConvSame(conv1_, input));
  for (size_t i = 0; i < depthwise_.size(); ++i) {
    x = Relu6(ConvSame(depthwise_[i], x));
    x = Relu6(RunConv(pointwise_[i], x));
  }
  return x.mean({2, 3});
}

}  // namespace qf::nn
