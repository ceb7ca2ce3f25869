#include "core/nn/mobilefacenet.h"

#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/nn/input_spec.h"

namespace qf::nn {
namespace {

namespace tnn = torch::nn;

// Every arcface_torch MobileFaceNet building block (ConvBlock, LinearBlock,
// DepthWise, Residual, GDC) is a module whose only child is a Sequential
// named "layers", optionally with an identity shortcut around it. One class
// for all of them gives the state_dict names "<block>.layers.<i>.<param>".
class LayersBlockImpl : public tnn::Module {
 public:
  LayersBlockImpl(tnn::Sequential layers, bool residual)
      : layers_(register_module("layers", std::move(layers))), residual_(residual) {}

  torch::Tensor forward(torch::Tensor x) {
    torch::Tensor y = layers_->forward(x);
    return residual_ ? y + x : y;
  }

 private:
  tnn::Sequential layers_;
  bool residual_;
};
TORCH_MODULE(LayersBlock);

struct ConvGeometry {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t padding = 0;
  int64_t groups = 1;
};

tnn::Conv2d BiasFreeConv(int64_t in, int64_t out, const ConvGeometry& g) {
  return tnn::Conv2d(tnn::Conv2dOptions(in, out, g.kernel)
                         .stride(g.stride)
                         .padding(g.padding)
                         .groups(g.groups)
                         .bias(false));
}

// Conv + BN + PReLU.
LayersBlock ConvBlock(int64_t in, int64_t out, const ConvGeometry& g) {
  return LayersBlock(tnn::Sequential(BiasFreeConv(in, out, g), tnn::BatchNorm2d(out),
                                     tnn::PReLU(tnn::PReLUOptions().num_parameters(out))),
                     /*residual=*/false);
}

// Conv + BN, no activation.
LayersBlock LinearBlock(int64_t in, int64_t out, const ConvGeometry& g) {
  return LayersBlock(tnn::Sequential(BiasFreeConv(in, out, g), tnn::BatchNorm2d(out)),
                     /*residual=*/false);
}

// 1x1 expansion to `groups` channels, 3x3 depthwise conv, 1x1 linear
// projection to `out` (arcface_torch's DepthWise; "groups" is its name for
// the expanded width).
LayersBlock DepthWise(int64_t in, int64_t out, bool residual, int64_t stride, int64_t groups) {
  return LayersBlock(
      tnn::Sequential(ConvBlock(in, groups, {}),
                      ConvBlock(groups, groups, {/*kernel=*/3, stride, /*padding=*/1, groups}),
                      LinearBlock(groups, out, {})),
      residual);
}

// `count` stride-1 DepthWise blocks with shortcuts.
LayersBlock Residual(int64_t channels, int count, int64_t groups) {
  tnn::Sequential blocks;
  for (int i = 0; i < count; ++i) {
    blocks->push_back(DepthWise(channels, channels, /*residual=*/true, /*stride=*/1, groups));
  }
  return LayersBlock(blocks, /*residual=*/false);
}

// Global depthwise conv head: 7x7 depthwise linear conv over the 7x7 map,
// then a bias-free projection and BatchNorm1d.
LayersBlock Gdc(int64_t embedding_dim) {
  return LayersBlock(
      tnn::Sequential(LinearBlock(512, 512, {/*kernel=*/7, /*stride=*/1, /*padding=*/0, 512}),
                      tnn::Flatten(),
                      tnn::Linear(tnn::LinearOptions(512, embedding_dim).bias(false)),
                      tnn::BatchNorm1d(embedding_dim)),
      /*residual=*/false);
}

}  // namespace

absl::StatusOr<std::shared_ptr<MobileFaceNet>> MobileFaceNet::Create(
    const MobileFaceNetOptions& options) {
  if (options.embedding_dim <= 0 || options.scale <= 0) {
    return absl::InvalidArgumentError(absl::StrCat("MobileFaceNet: embedding_dim (",
                                                   options.embedding_dim, ") and scale (",
                                                   options.scale, ") must be positive"));
  }
  for (const int count : options.blocks) {
    if (count <= 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("MobileFaceNet: every entry of blocks must be positive, got ", count));
    }
  }
  return std::make_shared<MobileFaceNet>(options);
}

MobileFaceNet::MobileFaceNet(const MobileFaceNetOptions& options) {
  spec_.architecture = "mobilefacenet";
  spec_.embedding_dim = options.embedding_dim;
  spec_.input.size = 112;
  spec_.input.landmark_template = ArcFaceTemplate(112);
  spec_.input.channel_order = ChannelOrder::kRgb;
  spec_.input.mean = {127.5f, 127.5f, 127.5f};
  spec_.input.scale = {1.f / 127.5f, 1.f / 127.5f, 1.f / 127.5f};

  const int64_t narrow = 64 * options.scale;
  const int64_t wide = 128 * options.scale;
  // The fixed group counts (64, 128, 256, 512) are arcface_torch's: they do
  // not follow `scale`, so weights trained there only fit with these values.
  tnn::Sequential body;
  body->push_back(ConvBlock(3, narrow, {/*kernel=*/3, /*stride=*/2, /*padding=*/1, 1}));
  if (options.blocks[0] == 1) {
    body->push_back(ConvBlock(narrow, narrow, {/*kernel=*/3, /*stride=*/1, /*padding=*/1, 64}));
  } else {
    body->push_back(Residual(narrow, options.blocks[0], 128));
  }
  body->push_back(DepthWise(narrow, narrow, /*residual=*/false, /*stride=*/2, 128));
  body->push_back(Residual(narrow, options.blocks[1], 128));
  body->push_back(DepthWise(narrow, wide, /*residual=*/false, /*stride=*/2, 256));
  body->push_back(Residual(wide, options.blocks[2], 256));
  body->push_back(DepthWise(wide, wide, /*residual=*/false, /*stride=*/2, 512));
  body->push_back(Residual(wide, options.blocks[3], 256));
  layers_ = register_module("layers", body);

  conv_sep_ = tnn::AnyModule(ConvBlock(wide, 512, {}));
  register_module("conv_sep", conv_sep_.ptr());
  features_ = tnn::AnyModule(Gdc(options.embedding_dim));
  register_module("features", features_.ptr());
}

torch::Tensor MobileFaceNet::forward(torch::Tensor input) {
  torch::Tensor x = layers_->forward(input);
  x = conv_sep_.forward(x);
  return features_.forward(x);
}

}  // namespace qf::nn
