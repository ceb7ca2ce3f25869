// FaceRes and MobileFace: shapes with random weights, and loading the real
// graph models, including refusing a graph that differs from the port.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "core/nn/faceres.h"
#include "core/nn/mobileface.h"
#include "core/nn/tfjs_graph_model.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::nn {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

json ReadJson(const std::string& path) {
  std::ifstream in(path);
  return json::parse(std::string((std::istreambuf_iterator<char>(in)), {}));
}

// Loads `rel` (a model.json in the asset dir) after `edit` rewrote its JSON.
template <typename Edit>
absl::StatusOr<TfjsGraphModel> LoadEdited(const std::string& rel, Edit edit) {
  const std::string path = testing::AssetDir() + "/" + rel;
  json model = ReadJson(path);
  edit(model);
  return TfjsGraphModel::FromJson(model, std::filesystem::path(path).parent_path().string(), rel);
}

json* FindNode(json& model, const std::string& name) {
  for (json& node : model["modelTopology"]["node"]) {
    if (node["name"] == name) return &node;
  }
  return nullptr;
}

TEST(FaceResTest, SpecIsTheHseRecipe) {
  const ModelSpec spec = FaceRes::Spec();
  EXPECT_EQ(spec.architecture, "faceres");
  EXPECT_EQ(spec.embedding_dim, 1024);
  EXPECT_EQ(spec.input.size, 224);
  EXPECT_EQ(spec.input.channel_order, ChannelOrder::kBgr);
  EXPECT_FLOAT_EQ(spec.input.mean[0], 93.5940f);
  EXPECT_FLOAT_EQ(spec.input.mean[2], 129.1863f);
  EXPECT_FLOAT_EQ(spec.input.scale[0], 1.f);
  EXPECT_FLOAT_EQ(spec.input.landmark_template.points[0][0], 38.2946f * 2);
}

TEST(FaceResTest, MapsABatchTo1024Dimensions) {
  FaceRes net;
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net.forward(torch::randn({2, 3, 224, 224}) * 50);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 1024}));
  // ReLU6 then an average: every feature lies in [0, 6].
  EXPECT_GE(out.min().item<float>(), 0.f);
  EXPECT_LE(out.max().item<float>(), 6.f);
}

TEST(FaceResTest, LoadsTheShippedGraph) {
  QF_REQUIRE_ASSETS(false, FaceRes::kModelPath, "faceres/faceres.bin");
  absl::StatusOr<std::shared_ptr<FaceRes>> net = FaceRes::FromAssets(testing::AssetDir());
  ASSERT_TRUE(net.ok()) << net.status();
  EXPECT_FALSE((*net)->is_training());
}

TEST(FaceResTest, RefusesAGraphWithADifferentStride) {
  QF_REQUIRE_ASSETS(false, FaceRes::kModelPath, "faceres/faceres.bin");
  absl::StatusOr<TfjsGraphModel> graph = LoadEdited(FaceRes::kModelPath, [](json& model) {
    (*FindNode(model, "conv_dw_4/depthwise"))["attr"]["strides"]["list"]["i"] =
        json::array({"1", "1", "1", "1"});
  });
  ASSERT_TRUE(graph.ok()) << graph.status();
  FaceRes net;
  const absl::Status status = net.LoadTfjsGraph(*graph);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("conv_dw_4/depthwise"));
}

TEST(MobileFaceTest, SpecIsRgbZeroTo255) {
  const ModelSpec spec = MobileFace::Spec();
  EXPECT_EQ(spec.architecture, "mobileface");
  EXPECT_EQ(spec.embedding_dim, 256);
  EXPECT_EQ(spec.input.size, 112);
  EXPECT_EQ(spec.input.channel_order, ChannelOrder::kRgb);
  EXPECT_FLOAT_EQ(spec.input.mean[1], 0.f);
  EXPECT_FLOAT_EQ(spec.input.scale[1], 1.f);
  EXPECT_FLOAT_EQ(spec.input.landmark_template.points[2][1], 71.7366f);
}

TEST(MobileFaceTest, MapsABatchTo256DimensionsAndNeeds112) {
  MobileFace net;
  net.eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor out = net.forward(torch::rand({3, 3, 112, 112}) * 255);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{3, 256}));
  EXPECT_THROW(net.forward(torch::rand({1, 3, 96, 96})), c10::Error);
}

TEST(MobileFaceTest, LoadsTheShippedGraphWithItsInputNormalization) {
  QF_REQUIRE_ASSETS(false, MobileFace::kModelPath, "mobileface/mobileface.bin");
  absl::StatusOr<std::shared_ptr<MobileFace>> net = MobileFace::FromAssets(testing::AssetDir());
  ASSERT_TRUE(net.ok()) << net.status();
  const auto buffers = (*net)->named_buffers();
  EXPECT_EQ(buffers["input_mean"].item<float>(), 127.5f);
  EXPECT_EQ(buffers["input_scale"].item<float>(), 0.0078125f);
}

TEST(MobileFaceTest, RefusesAGraphWithDifferentPadding) {
  QF_REQUIRE_ASSETS(false, MobileFace::kModelPath, "mobileface/mobileface.bin");
  absl::StatusOr<TfjsGraphModel> graph = LoadEdited(MobileFace::kModelPath, [](json& model) {
    // The conv after Pad_5 pads again ('SAME' instead of 'VALID').
    (*FindNode(model, "depthwise_4"))["attr"]["padding"]["s"] = "U0FNRQ==";
  });
  ASSERT_TRUE(graph.ok()) << graph.status();
  MobileFace net;
  const absl::Status status = net.LoadTfjsGraph(*graph);
  EXPECT_EQ(status.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(status.message(), HasSubstr("depthwise_4"));
}

}  // namespace
}  // namespace qf::nn
