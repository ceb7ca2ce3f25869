// Channel equalization (core/quant/channel_equalizer.h): the factors follow
// the formula, scaling a group leaves the network's function unchanged (on
// the tiny backbone and on dlib-resnet's real layout), and the summary
// shows the channels' ranges evened out.
#include "core/quant/channel_equalizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "core/nn/dlib_resnet.h"
#include "core/quant/feature_recorder.h"
#include "core/synth/noise_source.h"
#include "tests/unit/quant/tiny_backbone.h"

namespace qf::quant {
namespace {

// Two channels read by one linear layer with equal weights, so only the
// activation ranges decide.
struct TwoChannelModel : torch::nn::Module {
  TwoChannelModel() {
    fc = register_module("fc", torch::nn::Linear(torch::nn::LinearOptions(2, 1).bias(false)));
    torch::NoGradGuard no_grad;
    fc->weight.fill_(1);
  }
  torch::nn::Linear fc{nullptr};
};

nn::ChannelGroup FcGroup(int64_t channels) {
  nn::ChannelGroup group;
  group.name = "in";
  group.channels = channels;
  group.consumers = {"fc"};
  group.sites = {"a", "b"};
  return group;
}

TEST(ChannelEqualizerTest, FactorsFollowTheMigrationFormula) {
  TwoChannelModel model;
  // Channel 1 spans a quarter of channel 0 at both sites.
  const SiteChannelRanges ranges = {{"a", torch::tensor({1.f, 0.25f})},
                                    {"b", torch::tensor({2.f, 0.5f})}};
  ChannelEqualizationOptions options;
  options.strength = 1;
  auto factors = EqualizationFactors(model, FcGroup(2), ranges, options);
  ASSERT_TRUE(factors.ok()) << factors.status();
  // 1 / a = (1, 4), normalized to a geometric mean of 1: (0.5, 2).
  EXPECT_NEAR((*factors)[0].item<float>(), 0.5f, 1e-5f);
  EXPECT_NEAR((*factors)[1].item<float>(), 2.f, 1e-5f);

  options.strength = 0.5;
  factors = EqualizationFactors(model, FcGroup(2), ranges, options);
  ASSERT_TRUE(factors.ok()) << factors.status();
  // sqrt(w / a) with w = (1, 1): (1, 2) -> (1/sqrt 2, sqrt 2).
  EXPECT_NEAR((*factors)[0].item<float>(), std::sqrt(0.5f), 1e-5f);
  EXPECT_NEAR((*factors)[1].item<float>(), std::sqrt(2.f), 1e-5f);

  options.strength = 0;  // Equal weights: nothing to migrate.
  factors = EqualizationFactors(model, FcGroup(2), ranges, options);
  ASSERT_TRUE(factors.ok()) << factors.status();
  EXPECT_NEAR((*factors)[0].item<float>(), 1.f, 1e-5f);
  EXPECT_NEAR((*factors)[1].item<float>(), 1.f, 1e-5f);
}

TEST(ChannelEqualizerTest, DeadChannelsKeepFactorOneAndFactorsAreClipped) {
  TwoChannelModel model;
  nn::ChannelGroup group = FcGroup(2);
  group.sites = {"a"};
  ChannelEqualizationOptions options;
  options.strength = 1;
  options.max_factor = 4;
  auto factors = EqualizationFactors(model, group, {{"a", torch::tensor({1.f, 0.f})}}, options);
  ASSERT_TRUE(factors.ok()) << factors.status();
  EXPECT_FLOAT_EQ((*factors)[1].item<float>(), 1.f);

  // 1 / a = (1, 1000): normalized (1/31.6, 31.6), clipped to (1/4, 4).
  factors = EqualizationFactors(model, group, {{"a", torch::tensor({1.f, 1e-3f})}}, options);
  ASSERT_TRUE(factors.ok()) << factors.status();
  EXPECT_NEAR((*factors)[0].item<float>(), 0.25f, 1e-6f);
  EXPECT_NEAR((*factors)[1].item<float>(), 4.f, 1e-5f);
}

TEST(ChannelEqualizerTest, FactorsRefuseMissingSitesUnknownLayersAndBadOptions) {
  TwoChannelModel model;
  const SiteChannelRanges ranges = {{"a", torch::tensor({1.f, 1.f})}};
  auto factors = EqualizationFactors(model, FcGroup(2), ranges, {});
  EXPECT_EQ(factors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(factors.status().message().find("site 'b'"), std::string::npos) << factors.status();

  nn::ChannelGroup group = FcGroup(2);
  group.sites = {"a"};
  group.consumers = {"nope"};
  factors = EqualizationFactors(model, group, ranges, {});
  EXPECT_EQ(factors.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(factors.status().message().find("'nope' not found"), std::string::npos)
      << factors.status();

  ChannelEqualizationOptions options;
  options.strength = 1.5;
  EXPECT_EQ(CheckChannelEqualizationOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.max_factor = 0.5;
  EXPECT_EQ(CheckChannelEqualizationOptions(options).code(), absl::StatusCode::kInvalidArgument);
  options = {};
  options.images = 0;
  EXPECT_EQ(CheckChannelEqualizationOptions(options).code(), absl::StatusCode::kInvalidArgument);
}

// Random positive factors on every group leave dlib-resnet's embeddings as
// they were (up to float rounding), and do change its weights.
TEST(ChannelEqualizerTest, ScalingDlibResnetsGroupsKeepsItsFunction) {
  torch::manual_seed(3);
  nn::DlibResnet model;
  model.eval();
  const torch::Tensor input = torch::randn({2, 3, 150, 150});
  torch::NoGradGuard no_grad;
  const torch::Tensor before = model.forward(input);
  const torch::Tensor stem = model.named_parameters()["conv32_down.weight"].clone();
  const std::vector<nn::ChannelGroup> groups = model.channel_groups();
  ASSERT_EQ(groups.size(), 15u);  // The stream and 14 blocks' branches.
  EXPECT_EQ(groups[0].name, "stream");
  EXPECT_EQ(groups[0].channels, 256);
  for (const nn::ChannelGroup& group : groups) {
    const torch::Tensor factors = torch::rand({group.channels}) * 7.5 + 0.5;
    ASSERT_TRUE(ScaleChannelGroup(model, group, factors).ok()) << group.name;
  }
  const torch::Tensor after = model.forward(input);
  EXPECT_FALSE(torch::allclose(stem, model.named_parameters()["conv32_down.weight"]));
  const double scale = before.abs().max().item<double>();
  EXPECT_LT((after - before).abs().max().item<double>(), 1e-4 * scale);
}

TEST(ChannelEqualizerTest, ScaleRefusesWrongFactorsAndChangesNothing) {
  TwoChannelModel model;
  const torch::Tensor weight = model.fc->weight.clone();
  EXPECT_EQ(ScaleChannelGroup(model, FcGroup(2), torch::tensor({1.f, -1.f})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ScaleChannelGroup(model, FcGroup(2), torch::tensor({1.f})).code(),
            absl::StatusCode::kInvalidArgument);
  // A consumer wider than the group.
  EXPECT_EQ(ScaleChannelGroup(model, FcGroup(1), torch::tensor({2.f})).code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(torch::equal(weight, model.fc->weight));
}

// The tiny backbone with its one block described as a group.
class GroupedTinyBackbone : public testing::TinyBackbone {
 public:
  std::vector<nn::ChannelGroup> channel_groups() const override {
    nn::ChannelGroup stream;
    stream.name = "stream";
    stream.channels = 8;
    stream.producers = {"conv1", "conv2"};
    stream.consumers = {"conv2", "fc"};
    stream.sites = {"conv2", "block/residual", "block/shortcut", "fc"};
    return {stream};
  }
};

TEST(ChannelEqualizerTest, EqualizeChannelsEvensOutRangesAndKeepsTheFunction) {
  torch::manual_seed(5);
  GroupedTinyBackbone model;
  {
    // Make channel ranges unequal: scale conv1's outputs by 1..128.
    torch::NoGradGuard no_grad;
    const torch::Tensor spread =
        torch::pow(2.0, torch::arange(8, torch::kFloat)).view({8, 1, 1, 1});
    auto params = model.named_parameters();
    params["conv1.weight"].mul_(spread);
    params["conv1.bias"].mul_(spread.flatten());
  }
  synth::NoiseSource source(model.spec().input, /*seed=*/1);
  const torch::Tensor probe = source.NextBatch(4);
  torch::Tensor before;
  {
    torch::NoGradGuard no_grad;
    before = model.forward(probe);
  }
  ChannelEqualizationOptions options;
  options.strength = 1;
  options.images = 8;
  options.batch_size = 4;
  const auto summary = EqualizeChannels(model, source, options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  ASSERT_EQ(summary->size(), 1u);
  const nlohmann::json& stream = (*summary)[0];
  EXPECT_EQ(stream["group"], "stream");
  EXPECT_LT(stream["median_relative_range_before"].get<double>(), 0.2);
  EXPECT_GT(stream["median_relative_range_after"].get<double>(),
            2 * stream["median_relative_range_before"].get<double>());
  EXPECT_EQ(model.layer_hooks(), nullptr);
  torch::NoGradGuard no_grad;
  const torch::Tensor after = model.forward(probe);
  EXPECT_LT((after - before).abs().max().item<double>(), 1e-4 * before.abs().max().item<double>());
}

TEST(ChannelEqualizerTest, EqualizeChannelsRefusesModelsWithoutGroups) {
  testing::TinyBackbone plain;
  synth::NoiseSource source(plain.spec().input, /*seed=*/1);
  EXPECT_FALSE(HasChannelGroups(plain));
  auto summary = EqualizeChannels(plain, source, {});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(summary.status().message().find("no channel groups"), std::string::npos)
      << summary.status();

  testing::UnhookableBackbone unhookable;
  summary = EqualizeChannels(unhookable, source, {});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);

  GroupedTinyBackbone grouped;
  EXPECT_TRUE(HasChannelGroups(grouped));
  grouped.set_layer_hooks(
      std::make_shared<FeatureRecorder>(std::map<const torch::nn::Module*, std::string>{}));
  summary = EqualizeChannels(grouped, source, {});
  EXPECT_EQ(summary.status().code(), absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace qf::quant
