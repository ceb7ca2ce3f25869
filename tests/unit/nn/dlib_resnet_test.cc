// DlibResnet without the real weights: shapes, specs, and the importer's
// folding and error handling on a synthetic face-api weight map.
#include "core/nn/dlib_resnet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <limits>
#include <string>
#include <vector>

namespace qf::nn {
namespace {

using ::testing::HasSubstr;

// face-api's layer prefixes and (in, out, kernel) of each conv.
struct ConvShape {
  std::string prefix;
  int64_t in, out, kernel;
};

std::vector<ConvShape> DlibConvs() {
  std::vector<ConvShape> convs = {{"conv32_down", 3, 32, 7}};
  const std::vector<std::pair<std::string, int64_t>> blocks = {
      {"conv32_1", 32},   {"conv32_2", 32},         {"conv32_3", 32},      {"conv64_down", 64},
      {"conv64_1", 64},   {"conv64_2", 64},         {"conv64_3", 64},      {"conv128_down", 128},
      {"conv128_1", 128}, {"conv128_2", 128},       {"conv256_down", 256}, {"conv256_1", 256},
      {"conv256_2", 256}, {"conv256_down_out", 256}};
  int64_t in = 32;
  for (const auto& [name, out] : blocks) {
    convs.push_back({name + "/conv1", in, out, 3});
    convs.push_back({name + "/conv2", out, out, 3});
    in = out;
  }
  return convs;
}

TensorMap SyntheticWeights() {
  torch::manual_seed(7);
  TensorMap weights;
  for (const ConvShape& c : DlibConvs()) {
    weights[c.prefix + "/conv/filters"] = torch::randn({c.kernel, c.kernel, c.in, c.out}) * 0.05;
    weights[c.prefix + "/conv/bias"] = torch::randn({c.out}) * 0.01;
    weights[c.prefix + "/scale/weights"] = torch::rand({c.out}) + 0.5;
    weights[c.prefix + "/scale/biases"] = torch::randn({c.out}) * 0.1;
  }
  weights["fc"] = torch::randn({256, 128});
  return weights;
}

TEST(DlibResnetTest, SpecIsTheDlibRecipe) {
  const ModelSpec spec = DlibResnet::Spec();
  EXPECT_EQ(spec.architecture, "dlib-resnet");
  EXPECT_EQ(spec.embedding_dim, 128);
  EXPECT_EQ(spec.input.size, 150);
  EXPECT_EQ(spec.input.channel_order, ChannelOrder::kRgb);
  EXPECT_FLOAT_EQ(spec.input.mean[0], 122.782f);
  EXPECT_FLOAT_EQ(spec.input.mean[2], 104.298f);
  EXPECT_FLOAT_EQ(spec.input.scale[1], 1.f / 255.f);
  EXPECT_FLOAT_EQ(spec.input.landmark_template.points[0][0], 47.55f);
  EXPECT_FLOAT_EQ(spec.input.landmark_template.points[4][1], 103.02f);
}

TEST(DlibResnetTest, MapsABatchTo128Dimensions) {
  DlibResnet net;
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net.forward(torch::randn({2, 3, 150, 150}) * 0.2);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 128}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
  EXPECT_THROW(net.forward(torch::randn({1, 1, 150, 150})), c10::Error);
}

TEST(DlibResnetTest, FoldsEachScaleLayerIntoItsConv) {
  const TensorMap weights = SyntheticWeights();
  DlibResnet net;
  ASSERT_TRUE(net.LoadTfjsWeights(weights).ok());
  const auto params = net.named_parameters();
  const std::string p = "conv64_down/conv1";
  const torch::Tensor scale = weights.at(p + "/scale/weights");
  const torch::Tensor want_w =
      weights.at(p + "/conv/filters").permute({3, 2, 0, 1}) * scale.view({-1, 1, 1, 1});
  const torch::Tensor want_b =
      weights.at(p + "/conv/bias") * scale + weights.at(p + "/scale/biases");
  EXPECT_TRUE(torch::allclose(params["conv64_down_conv1.weight"], want_w));
  EXPECT_TRUE(torch::allclose(params["conv64_down_conv1.bias"], want_b));
  EXPECT_TRUE(torch::equal(params["fc.weight"], weights.at("fc").t()));
}

TEST(DlibResnetTest, FoldedConvComputesConvThenScaleLayer) {
  // One face-api conv layer, unfolded, against the folded module's first conv.
  const TensorMap weights = SyntheticWeights();
  DlibResnet net;
  ASSERT_TRUE(net.LoadTfjsWeights(weights).ok());
  torch::NoGradGuard no_grad;
  const torch::Tensor x = torch::randn({1, 3, 31, 31});
  const std::string p = "conv32_down";
  torch::Tensor want = torch::conv2d(x, weights.at(p + "/conv/filters").permute({3, 2, 0, 1}),
                                     weights.at(p + "/conv/bias"), 2);
  want = want * weights.at(p + "/scale/weights").view({1, -1, 1, 1}) +
         weights.at(p + "/scale/biases").view({1, -1, 1, 1});
  const auto params = net.named_parameters();
  const torch::Tensor got =
      torch::conv2d(x, params["conv32_down.weight"], params["conv32_down.bias"], 2);
  EXPECT_TRUE(torch::allclose(got, want, 1e-5, 1e-5));
}

TEST(DlibResnetTest, MissingMisShapedOrExtraWeightsFailWithoutChangingTheNet) {
  DlibResnet net;
  const torch::Tensor before = net.named_parameters()["conv32_down.weight"].clone();

  TensorMap missing = SyntheticWeights();
  missing.erase("conv128_2/conv2/scale/biases");
  const absl::Status a = net.LoadTfjsWeights(missing);
  EXPECT_EQ(a.code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(a.message(), HasSubstr("conv128_2/conv2/scale/biases"));

  TensorMap misshaped = SyntheticWeights();
  misshaped["fc"] = torch::zeros({128, 256});
  EXPECT_EQ(net.LoadTfjsWeights(misshaped).code(), absl::StatusCode::kInvalidArgument);

  TensorMap extra = SyntheticWeights();
  extra["conv512_1/conv1/conv/filters"] = torch::zeros({1});
  const absl::Status c = net.LoadTfjsWeights(extra);
  EXPECT_EQ(c.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(c.message(), HasSubstr("conv512_1/conv1/conv/filters"));

  EXPECT_TRUE(torch::equal(net.named_parameters()["conv32_down.weight"], before));
}

TEST(DlibResnetTest, ScalingTheResidualStreamKeepsTheEmbedding) {
  DlibResnet net;
  ASSERT_TRUE(net.LoadTfjsWeights(SyntheticWeights()).ok());
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor input = torch::randn({2, 3, 150, 150}) * 0.2;
  const torch::Tensor before = net.forward(input);
  const torch::Tensor conv1_before = net.named_parameters()["conv64_1_conv1.weight"].clone();
  const torch::Tensor factors = torch::rand({DlibResnet::kStreamChannels}) * 4 + 0.25;
  ASSERT_TRUE(net.ScaleResidualStream(factors).ok());
  const torch::Tensor after = net.forward(input);
  const double relative = ((after - before).norm() / before.norm()).item<double>();
  EXPECT_LT(relative, 1e-5);
  // The weights did change: a reader's input channel 5 is divided by its factor.
  const torch::Tensor conv1_after = net.named_parameters()["conv64_1_conv1.weight"];
  EXPECT_TRUE(torch::allclose(conv1_after.select(1, 5) * factors[5], conv1_before.select(1, 5),
                              1e-5, 1e-6));
  EXPECT_EQ(net.ResidualStreamReaders().size(), 15u);
  EXPECT_EQ(net.ResidualStreamReaders().back(), "fc");
}

TEST(DlibResnetTest, ScalingRefusesBadFactorsAndChangesNothing) {
  DlibResnet net;
  const torch::Tensor before = net.named_parameters()["conv32_1_conv1.weight"].clone();
  const int64_t n = DlibResnet::kStreamChannels;
  torch::Tensor with_zero = torch::ones({n});
  with_zero[3] = 0;
  torch::Tensor with_nan = torch::ones({n});
  with_nan[9] = std::numeric_limits<float>::quiet_NaN();
  for (const torch::Tensor& bad : {torch::ones({n - 1}), torch::ones({n}, torch::kInt64), with_zero,
                                   -torch::ones({n}), with_nan, torch::Tensor()}) {
    EXPECT_EQ(net.ScaleResidualStream(bad).code(), absl::StatusCode::kInvalidArgument);
  }
  EXPECT_TRUE(torch::equal(net.named_parameters()["conv32_1_conv1.weight"], before));
}

}  // namespace
}  // namespace qf::nn
