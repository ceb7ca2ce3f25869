// TfjsGraphModel on a small synthetic model.json: weights from the embedded
// weightsManifest, node/attribute queries and the conv checks ports rely on.
#include "core/nn/tfjs_graph_model.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace qf::nn {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

// Two convs: "k1" by a stride-2 SAME Conv2D, "k2" by a stride-1 VALID
// depthwise conv; strides are proto3-JSON strings, padding base64 bytes.
constexpr char kModelJson[] = R"({
  "format": "graph-model",
  "modelTopology": {"node": [
    {"name": "x", "op": "Placeholder"},
    {"name": "c1", "op": "Conv2D", "input": ["x", "k1"],
     "attr": {"strides": {"list": {"i": ["1", "2", "2", "1"]}}, "padding": {"s": "U0FNRQ=="}}},
    {"name": "c2", "op": "DepthwiseConv2dNative", "input": ["c1", "k2"],
     "attr": {"strides": {"list": {"i": ["1", "1", "1", "1"]}}, "padding": {"s": "VkFMSUQ="},
              "dilations": {"list": {}}}},
    {"name": "k1", "op": "Const"}, {"name": "k2", "op": "Const"}, {"name": "six", "op": "Const"}
  ]},
  "weightsManifest": [{"paths": ["g.bin"], "weights": [
    {"name": "k1", "shape": [1, 1, 1, 2], "dtype": "float32"},
    {"name": "k2", "shape": [3, 3, 2, 1], "dtype": "float32",
     "quantization": {"dtype": "float16"}},
    {"name": "six", "shape": [], "dtype": "float32"}]}]
})";

class TfjsGraphModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tfjs_graph_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
    // k1: two float32; k2: 18 float16 ones (0x3C00); six: one float32.
    std::string bin(8 + 36 + 4, '\0');
    const float k1[2] = {0.5f, -1.f};
    std::memcpy(bin.data(), k1, 8);
    for (int i = 0; i < 18; ++i) {
      const uint16_t one = 0x3C00;
      std::memcpy(bin.data() + 8 + 2 * i, &one, 2);
    }
    const float six = 6.f;
    std::memcpy(bin.data() + 44, &six, 4);
    Write("g.bin", bin);
    Write("model.json", kModelJson);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void Write(const std::string& name, const std::string& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  absl::StatusOr<TfjsGraphModel> LoadModel() {
    return TfjsGraphModel::Load((dir_ / "model.json").string());
  }

  std::filesystem::path dir_;
};

TEST_F(TfjsGraphModelTest, LoadsWeightsFromEmbeddedManifest) {
  absl::StatusOr<TfjsGraphModel> model = LoadModel();
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->weights().size(), 3u);
  absl::StatusOr<torch::Tensor> k1 = model->Weight("k1", {1, 1, 1, 2});
  ASSERT_TRUE(k1.ok()) << k1.status();
  EXPECT_TRUE(torch::equal(k1->flatten(), torch::tensor({0.5f, -1.f})));
  absl::StatusOr<torch::Tensor> k2 = model->Weight("k2", {3, 3, 2, 1});
  ASSERT_TRUE(k2.ok()) << k2.status();
  EXPECT_TRUE(torch::equal(*k2, torch::ones({3, 3, 2, 1})));
  absl::StatusOr<float> six = model->Scalar("six");
  ASSERT_TRUE(six.ok()) << six.status();
  EXPECT_EQ(*six, 6.f);
  EXPECT_EQ(model->Scalar("k1").status().code(), absl::StatusCode::kNotFound);
  const absl::StatusOr<torch::Tensor> wrong = model->Weight("k1", {2});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("model.json"));
}

TEST_F(TfjsGraphModelTest, AnswersNodeAndAttributeQueries) {
  absl::StatusOr<TfjsGraphModel> model = LoadModel();
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->HasNode("c1"));
  EXPECT_FALSE(model->HasNode("c3"));
  EXPECT_EQ(*model->NodeOp("c2"), "DepthwiseConv2dNative");
  EXPECT_EQ(model->NodeOp("c3").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(*model->IntListAttr("c1", "strides"), (std::vector<int64_t>{1, 2, 2, 1}));
  EXPECT_TRUE(model->IntListAttr("c2", "dilations")->empty());
  EXPECT_EQ(*model->StringAttr("c1", "padding"), "SAME");
  EXPECT_EQ(*model->StringAttr("c2", "padding"), "VALID");
  EXPECT_EQ(model->StringAttr("c1", "data_format").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(model->IntListAttr("c1", "padding").status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST_F(TfjsGraphModelTest, ExpectConvAcceptsTheTruthAndNamesMismatches) {
  absl::StatusOr<TfjsGraphModel> model = LoadModel();
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_TRUE(model->ExpectConv("k1", "Conv2D", 2, "SAME").ok());
  EXPECT_TRUE(model->ExpectConv("k2", "DepthwiseConv2dNative", 1, "VALID").ok());

  const absl::Status stride = model->ExpectConv("k1", "Conv2D", 1, "SAME");
  EXPECT_EQ(stride.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(stride.message(), HasSubstr("node 'c1' is Conv2D strides [1,2,2,1]"));
  EXPECT_EQ(model->ExpectConv("k2", "DepthwiseConv2dNative", 1, "SAME").code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(model->ExpectConv("k2", "Conv2D", 1, "VALID").code(),
            absl::StatusCode::kFailedPrecondition);
  const absl::Status unused = model->ExpectConv("six", "Conv2D", 1, "SAME");
  EXPECT_EQ(unused.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(unused.message(), HasSubstr("found 0"));
}

TEST_F(TfjsGraphModelTest, RejectsWhatIsNotAGraphModel) {
  json layers = json::parse(kModelJson);
  layers["format"] = "layers-model";
  EXPECT_EQ(TfjsGraphModel::FromJson(layers, dir_.string(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  json no_topology = json::parse(kModelJson);
  no_topology.erase("modelTopology");
  EXPECT_EQ(TfjsGraphModel::FromJson(no_topology, dir_.string(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  json no_weights = json::parse(kModelJson);
  no_weights.erase("weightsManifest");
  EXPECT_EQ(TfjsGraphModel::FromJson(no_weights, dir_.string(), "x").status().code(),
            absl::StatusCode::kInvalidArgument);
  std::filesystem::remove(dir_ / "g.bin");
  EXPECT_EQ(LoadModel().status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace qf::nn
