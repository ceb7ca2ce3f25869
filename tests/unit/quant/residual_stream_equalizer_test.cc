// Residual stream equalization on a dlib-resnet with synthetic weights (no
// assets needed): the factors, what equalizing does to the stream's
// channels, and the refusals.
#include "core/quant/residual_stream_equalizer.h"

#include <gtest/gtest.h>

#include <limits>
#include <memory>

#include "core/nn/dlib_resnet.h"
#include "core/quant/fake_quant_hooks.h"
#include "tests/unit/quant/tiny_backbone.h"

namespace qf::quant {
namespace {

// A dlib-resnet whose conv biases give the stream's channels spans that
// differ by orders of magnitude, as trained nets' do to a lesser degree.
std::shared_ptr<nn::DlibResnet> UnevenResnet() {
  torch::manual_seed(3);
  auto net = std::make_shared<nn::DlibResnet>();
  torch::NoGradGuard no_grad;
  for (auto& item : net->named_parameters()) {
    if (item.key().find("weight") != std::string::npos) item.value().mul_(0.5);
  }
  // Channel c of the stem's output times 10^(c mod 3 - 1).
  const torch::Tensor gain =
      torch::pow(10.0, torch::arange(32).remainder(3).to(torch::kFloat32) - 1.0);
  auto params = net->named_parameters();
  params["conv32_down.weight"].mul_(gain.view({-1, 1, 1, 1}));
  params["conv32_down.bias"].mul_(gain);
  net->eval();
  return net;
}

torch::Tensor Faces() {
  torch::manual_seed(4);
  return torch::randn({4, 3, 150, 150}) * 0.3;
}

double Spread(const torch::Tensor& factors) {
  return (factors.max() / factors.min()).item<double>();
}

double Median(const torch::Tensor& factors) { return factors.median().item<double>(); }

TEST(ResidualStreamEqualizerTest, StrengthZeroLeavesEveryChannelAlone) {
  auto net = UnevenResnet();
  const auto factors = ResidualStreamFactors(*net, Faces(), 0.0);
  ASSERT_TRUE(factors.ok()) << factors.status();
  EXPECT_EQ(factors->size(0), nn::DlibResnet::kStreamChannels);
  EXPECT_TRUE(torch::equal(*factors, torch::ones({nn::DlibResnet::kStreamChannels})));
}

TEST(ResidualStreamEqualizerTest, EqualizingEvensOutTheChannelsAndKeepsTheEmbedding) {
  auto net = UnevenResnet();
  const torch::Tensor faces = Faces();
  torch::NoGradGuard no_grad;
  const torch::Tensor before = net->forward(faces);
  const auto uneven = ResidualStreamFactors(*net, faces, 1.0);
  ASSERT_TRUE(uneven.ok()) << uneven.status();
  // Narrow channels are widened: every factor is at least 1.
  EXPECT_GE(uneven->min().item<double>(), 1.0 - 1e-6);
  EXPECT_GT(Spread(*uneven), 10.0);

  ASSERT_TRUE(EqualizeResidualStream(*net, faces, 1.0).ok());
  const torch::Tensor after = net->forward(faces);
  EXPECT_LT(((after - before).norm() / before.norm()).item<double>(), 1e-4);
  // Measured again, the median channel asks for far less correction (a
  // few channels of this random net stay outliers whatever their factor).
  const auto even = ResidualStreamFactors(*net, faces, 1.0);
  ASSERT_TRUE(even.ok()) << even.status();
  EXPECT_LT(Median(*even), Median(*uneven) / 2) << Median(*even) << " vs " << Median(*uneven);
}

TEST(ResidualStreamEqualizerTest, MeasuringLeavesTheModelsOwnHooksInPlace) {
  auto net = UnevenResnet();
  FakeQuantOptions options;
  options.bits = {8, 8};
  auto hooks = FakeQuantHooks::Attach(*net, options);
  ASSERT_TRUE(hooks.ok()) << hooks.status();
  ASSERT_TRUE(ResidualStreamFactors(*net, Faces(), 0.5).ok());
  EXPECT_EQ(net->layer_hooks().get(), hooks->get());
}

TEST(ResidualStreamEqualizerTest, RefusesOtherModelsAndStrengthsOutsideZeroToOne) {
  testing::TinyBackbone tiny;
  const auto other = ResidualStreamFactors(tiny, torch::randn({2, 3, 16, 16}), 0.5);
  EXPECT_EQ(other.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(other.status().message().find("tiny has no residual stream"), std::string::npos)
      << other.status();
  auto net = UnevenResnet();
  for (const double strength : {-0.1, 1.5, std::numeric_limits<double>::quiet_NaN()}) {
    EXPECT_EQ(ResidualStreamFactors(*net, Faces(), strength).status().code(),
              absl::StatusCode::kInvalidArgument)
        << strength;
  }
  EXPECT_EQ(ScaleResidualStream(tiny, torch::ones({4})).code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace qf::quant
