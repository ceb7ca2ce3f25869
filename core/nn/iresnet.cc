#include "core/nn/iresnet.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/nn/input_spec.h"

namespace qf::nn {
namespace {

namespace tnn = torch::nn;

tnn::Conv2d Conv3x3(int64_t in, int64_t out, int64_t stride) {
  return tnn::Conv2d(tnn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false));
}

// arcface_torch's IBasicBlock: a pre-activation-style residual block,
// BN -> conv3x3 -> BN -> PReLU -> conv3x3 (strided) -> BN, plus the shortcut
// (identity, or 1x1 strided conv + BN where the shape changes). Children are
// registered in arcface_torch's order so named_parameters() lists alike.
class IBasicBlockImpl : public tnn::Module {
 public:
  IBasicBlockImpl(int64_t in, int64_t planes, int64_t stride)
      : bn1_(register_module("bn1", tnn::BatchNorm2d(in))),
        conv1_(register_module("conv1", Conv3x3(in, planes, 1))),
        bn2_(register_module("bn2", tnn::BatchNorm2d(planes))),
        prelu_(register_module("prelu", tnn::PReLU(tnn::PReLUOptions().num_parameters(planes)))),
        conv2_(register_module("conv2", Conv3x3(planes, planes, stride))),
        bn3_(register_module("bn3", tnn::BatchNorm2d(planes))) {
    if (stride != 1 || in != planes) {
      downsample_ = register_module(
          "downsample",
          tnn::Sequential(tnn::Conv2d(tnn::Conv2dOptions(in, planes, 1).stride(stride).bias(false)),
                          tnn::BatchNorm2d(planes)));
    }
  }

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor out = bn1_->forward(x);
    out = conv1_->forward(out);
    out = bn2_->forward(out);
    out = prelu_->forward(out);
    out = conv2_->forward(out);
    out = bn3_->forward(out);
    return out + (downsample_ ? downsample_->forward(x) : x);
  }

 private:
  tnn::BatchNorm2d bn1_;
  tnn::Conv2d conv1_;
  tnn::BatchNorm2d bn2_;
  tnn::PReLU prelu_;
  tnn::Conv2d conv2_;
  tnn::BatchNorm2d bn3_;
  tnn::Sequential downsample_{nullptr};
};
TORCH_MODULE(IBasicBlock);

// The spatial size after the four stride-2 stages for a 112x112 input; fc
// flattens a 512 x 7 x 7 map.
constexpr int64_t kFinalMapSize = 7;
constexpr int64_t kFinalChannels = 512;

}  // namespace

absl::StatusOr<IResNetOptions> IResNetOptions::ForDepth(int depth) {
  IResNetOptions options;
  options.name = absl::StrCat("iresnet", depth);
  switch (depth) {
    case 18:
      options.layers = {2, 2, 2, 2};
      break;
    case 34:
      options.layers = {3, 4, 6, 3};
      break;
    case 50:
      options.layers = {3, 4, 14, 3};
      break;
    case 100:
      options.layers = {3, 13, 30, 3};
      break;
    default:
      return absl::InvalidArgumentError(
          absl::StrCat("no iResNet of depth ", depth, "; known depths: 18, 34, 50, 100"));
  }
  return options;
}

absl::StatusOr<std::shared_ptr<IResNet>> IResNet::Create(const IResNetOptions& options) {
  for (const int count : options.layers) {
    if (count <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(options.name, ": every stage needs at least one block, got ", count));
    }
  }
  if (options.embedding_dim <= 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        options.name, ": embedding_dim must be positive, got ", options.embedding_dim));
  }
  if (!(options.dropout >= 0.0 && options.dropout < 1.0)) {
    return absl::InvalidArgumentError(
        absl::StrCat(options.name, ": dropout must be in [0, 1), got ", options.dropout));
  }
  return std::make_shared<IResNet>(options);
}

IResNet::IResNet(const IResNetOptions& options) {
  spec_.architecture = options.name;
  spec_.embedding_dim = options.embedding_dim;
  spec_.input.size = 112;
  spec_.input.landmark_template = ArcFaceTemplate(112);
  spec_.input.channel_order = ChannelOrder::kRgb;
  spec_.input.mean = {127.5f, 127.5f, 127.5f};
  spec_.input.scale = {1.f / 127.5f, 1.f / 127.5f, 1.f / 127.5f};

  conv1_ = register_module("conv1", Conv3x3(3, 64, 1));
  bn1_ = register_module("bn1", tnn::BatchNorm2d(64));
  prelu_ = register_module("prelu", tnn::PReLU(tnn::PReLUOptions().num_parameters(64)));
  int64_t in = 64;
  for (size_t s = 0; s < stages_.size(); ++s) {
    const int64_t planes = int64_t{64} << s;
    tnn::Sequential stage;
    stage->push_back(IBasicBlock(in, planes, /*stride=*/2));
    for (int b = 1; b < options.layers[s]; ++b) {
      stage->push_back(IBasicBlock(planes, planes, /*stride=*/1));
    }
    stages_[s] = register_module(absl::StrCat("layer", s + 1), stage);
    in = planes;
  }
  bn2_ = register_module("bn2", tnn::BatchNorm2d(kFinalChannels));
  dropout_ = register_module("dropout", tnn::Dropout(options.dropout));
  fc_ = register_module(
      "fc", tnn::Linear(kFinalChannels * kFinalMapSize * kFinalMapSize, options.embedding_dim));
  features_ = register_module("features", tnn::BatchNorm1d(options.embedding_dim));
  // arcface_torch fixes the embedding BN's scale at 1 and never trains it;
  // keep it out of optimizers here too (imported weights still overwrite it).
  torch::NoGradGuard no_grad;
  features_->weight.fill_(1.0);
  features_->weight.set_requires_grad(false);
}

torch::Tensor IResNet::forward(torch::Tensor input) {
  torch::Tensor x = prelu_->forward(bn1_->forward(conv1_->forward(input)));
  for (auto& stage : stages_) x = stage->forward(x);
  x = bn2_->forward(x);
  x = torch::flatten(x, 1);
  x = dropout_->forward(x);
  x = fc_->forward(x);
  return features_->forward(x);
}

}  // namespace qf::nn
