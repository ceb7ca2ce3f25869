#include "core/nn/dlib_resnet.h"

#include <filesystem>
#include <set>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/nn/tf_ops.h"
#include "core/util/status_macros.h"

namespace qf::nn {
namespace {

namespace F = torch::nn::functional;

// One block of the net: face-api prefix, output channels, whether it is a
// down block. Input channels follow from the previous entry.
struct BlockShape {
  const char* name;
  int64_t channels;
  bool down;
};
constexpr BlockShape kBlocks[] = {
    {"conv32_1", 32, false},   {"conv32_2", 32, false},         {"conv32_3", 32, false},
    {"conv64_down", 64, true}, {"conv64_1", 64, false},         {"conv64_2", 64, false},
    {"conv64_3", 64, false},   {"conv128_down", 128, true},     {"conv128_1", 128, false},
    {"conv128_2", 128, false}, {"conv256_down", 256, true},     {"conv256_1", 256, false},
    {"conv256_2", 256, false}, {"conv256_down_out", 256, true},
};
constexpr int64_t kStemChannels = 32;
constexpr int64_t kEmbeddingDim = 128;

torch::nn::Conv2d MakeConv(int64_t in, int64_t out, int64_t kernel, int64_t stride,
                           int64_t padding) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding(padding).bias(true));
}

// Pending copies into parameters, applied only once every weight checked out.
using Assignments = std::vector<std::pair<torch::Tensor, torch::Tensor>>;

// face-api's conv layer: conv, + bias, * scale/weights + scale/biases. Folded:
// W' = W * s, b' = b * s + t, per output channel.
absl::Status FoldConvLayer(const TensorMap& weights, const std::string& prefix,
                           const torch::nn::Conv2d& conv, std::set<std::string>& used,
                           Assignments& out) {
  const int64_t out_ch = conv->weight.size(0);
  const int64_t in_ch = conv->weight.size(1);
  const int64_t k = conv->weight.size(2);
  const std::string filters_name = prefix + "/conv/filters";
  const std::string bias_name = prefix + "/conv/bias";
  const std::string scale_name = prefix + "/scale/weights";
  const std::string shift_name = prefix + "/scale/biases";
  QF_ASSIGN_OR_RETURN(const torch::Tensor filters,
                      GetTfjsWeight(weights, filters_name, {k, k, in_ch, out_ch}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor bias, GetTfjsWeight(weights, bias_name, {out_ch}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor scale, GetTfjsWeight(weights, scale_name, {out_ch}));
  QF_ASSIGN_OR_RETURN(const torch::Tensor shift, GetTfjsWeight(weights, shift_name, {out_ch}));
  used.insert({filters_name, bias_name, scale_name, shift_name});
  out.emplace_back(conv->weight, TfjsConvKernelToTorch(filters) * scale.view({-1, 1, 1, 1}));
  out.emplace_back(conv->bias, bias * scale + shift);
  return absl::OkStatus();
}

}  // namespace

ModelSpec DlibResnet::Spec() {
  ModelSpec spec;
  spec.architecture = kName;
  spec.embedding_dim = kEmbeddingDim;
  spec.input.size = 150;
  // dlib's mean face for a 150x150 chip with padding 0.25.
  spec.input.landmark_template.points = {{
      {47.55f, 46.60f},
      {100.48f, 46.60f},
      {74.01f, 76.56f},
      {50.41f, 103.02f},
      {97.61f, 103.02f},
  }};
  spec.input.channel_order = ChannelOrder::kRgb;
  spec.input.mean = {122.782f, 117.001f, 104.298f};
  spec.input.scale = {1.f / 255.f, 1.f / 255.f, 1.f / 255.f};
  return spec;
}

DlibResnet::DlibResnet() : spec_(Spec()) {
  conv32_down_ = register_module("conv32_down", MakeConv(3, kStemChannels, 7, 2, 0));
  int64_t in = kStemChannels;
  for (const BlockShape& shape : kBlocks) {
    Block block;
    block.name = shape.name;
    block.down = shape.down;
    // Down blocks: 3x3/2 without padding ('valid'); all others 'same'.
    block.conv1 =
        register_module(std::string(shape.name) + "_conv1",
                        MakeConv(in, shape.channels, 3, shape.down ? 2 : 1, shape.down ? 0 : 1));
    block.conv2 = register_module(std::string(shape.name) + "_conv2",
                                  MakeConv(shape.channels, shape.channels, 3, 1, 1));
    blocks_.push_back(std::move(block));
    in = shape.channels;
  }
  fc_ = register_module("fc",
                        torch::nn::Linear(torch::nn::LinearOptions(in, kEmbeddingDim).bias(false)));
}

absl::StatusOr<std::shared_ptr<DlibResnet>> DlibResnet::FromAssets(const std::string& asset_dir) {
  const std::string path = (std::filesystem::path(asset_dir) / kManifestPath).string();
  QF_ASSIGN_OR_RETURN(const TensorMap weights, LoadTfjsWeightsManifest(path));
  auto model = std::make_shared<DlibResnet>();
  const absl::Status status = model->LoadTfjsWeights(weights);
  if (!status.ok()) {
    return absl::Status(status.code(), absl::StrCat(path, ": ", status.message()));
  }
  model->eval();
  return model;
}

absl::Status DlibResnet::LoadTfjsWeights(const TensorMap& weights) {
  try {
    std::set<std::string> used;
    Assignments assignments;
    QF_RETURN_IF_ERROR(FoldConvLayer(weights, "conv32_down", conv32_down_, used, assignments));
    for (const Block& block : blocks_) {
      QF_RETURN_IF_ERROR(
          FoldConvLayer(weights, block.name + "/conv1", block.conv1, used, assignments));
      QF_RETURN_IF_ERROR(
          FoldConvLayer(weights, block.name + "/conv2", block.conv2, used, assignments));
    }
    // face-api computes globalAvg [N,256] x fc [256,128].
    const int64_t fc_in = fc_->weight.size(1);
    QF_ASSIGN_OR_RETURN(const torch::Tensor fc,
                        GetTfjsWeight(weights, "fc", {fc_in, kEmbeddingDim}));
    used.insert("fc");
    assignments.emplace_back(fc_->weight, fc.t());

    std::vector<std::string> unused;
    for (const auto& [name, tensor] : weights) {
      if (used.count(name) == 0) unused.push_back(name);
    }
    if (!unused.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("weights the dlib ResNet does not use: ", absl::StrJoin(unused, ", ")));
    }
    torch::NoGradGuard no_grad;
    for (auto& [param, value] : assignments) param.copy_(value);
  } catch (const c10::Error& e) {
    return absl::InternalError(
        absl::StrCat("loading dlib-resnet weights: ", e.what_without_backtrace()));
  }
  return absl::OkStatus();
}

absl::Status DlibResnet::ScaleResidualStream(const torch::Tensor& scale) {
  if (!scale.defined() || scale.dim() != 1 || scale.size(0) != kStreamChannels ||
      !scale.is_floating_point()) {
    return absl::InvalidArgumentError(
        absl::StrCat("residual stream scale: expected ", kStreamChannels, " float factors"));
  }
  const torch::Tensor factors = scale.to(torch::kCPU, torch::kFloat32);
  if (!(factors.isfinite().all().item<bool>() && (factors > 0).all().item<bool>())) {
    return absl::InvalidArgumentError("residual stream scale: factors must be finite and > 0");
  }
  torch::NoGradGuard no_grad;
  // A writer's output channel c times factor c.
  const auto scale_outputs = [&](torch::nn::Conv2d& conv) {
    const torch::Tensor f = factors.slice(0, 0, conv->weight.size(0)).to(conv->weight.device());
    conv->weight.mul_(f.view({-1, 1, 1, 1}));
    conv->bias.mul_(f);
  };
  // A reader's input channel c divided by factor c.
  const auto divide_inputs = [&](torch::Tensor& weight) {
    const torch::Tensor f = factors.slice(0, 0, weight.size(1)).to(weight.device());
    std::vector<int64_t> shape(weight.dim(), 1);
    shape[1] = -1;
    weight.div_(f.view(shape));
  };
  scale_outputs(conv32_down_);
  for (Block& block : blocks_) {
    divide_inputs(block.conv1->weight);
    scale_outputs(block.conv2);
  }
  divide_inputs(fc_->weight);
  return absl::OkStatus();
}

std::vector<std::string> DlibResnet::ResidualStreamReaders() const {
  std::vector<std::string> names;
  for (const Block& block : blocks_) names.push_back(block.name + "_conv1");
  names.push_back("fc");
  return names;
}

torch::Tensor DlibResnet::forward(torch::Tensor input) {
  TORCH_CHECK(input.dim() == 4 && input.size(1) == 3,
              "dlib-resnet expects N x 3 x 150 x 150 input, got ", input.sizes());
  torch::Tensor x = torch::relu(RunConv(conv32_down_, input));
  x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2));
  for (Block& block : blocks_) {
    torch::Tensor out = RunConv(block.conv2, torch::relu(RunConv(block.conv1, x)));
    torch::Tensor shortcut = x;
    if (block.down) {
      shortcut = F::avg_pool2d(x, F::AvgPool2dFuncOptions(2).stride(2));
      // The strided 'valid' conv can come out smaller than the pooled map
      // (3x3 vs 4x4 at the 8x8 stage): face-api appends zeros at the
      // bottom/right, which keeps the top-left alignment of both branches.
      TORCH_CHECK(shortcut.size(2) >= out.size(2) && shortcut.size(3) >= out.size(3),
                  "dlib-resnet: input too small at ", block.name);
      AlignDownBlockOperands(out, shortcut);
    }
    x = torch::relu(AddOperand(block.name + "/residual", out) +
                    AddOperand(block.name + "/shortcut", shortcut));
  }
  return RunLinear(fc_, x.mean({2, 3}));
}

}  // namespace qf::nn
