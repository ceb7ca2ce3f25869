// Our MobileFaceNet / iResNet modules against the names, shapes and
// parameter counts of the PyTorch reference models (shapes.json), and their
// specs and factory.
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/nn/iresnet.h"
#include "core/nn/mobilefacenet.h"
#include "core/nn/state_dict_importer.h"
#include "tests/unit/nn_import/reference_files.h"

namespace qf::nn {
namespace {

using ::testing::HasSubstr;

struct TensorInfo {
  std::vector<int64_t> shape;
  std::string dtype;
  bool operator==(const TensorInfo& o) const { return shape == o.shape && dtype == o.dtype; }
};

std::string DtypeName(const torch::Tensor& t) {
  return t.scalar_type() == torch::kLong    ? "int64"
         : t.scalar_type() == torch::kFloat ? "float32"
                                            : "other";
}

class ArchitectureShapesTest : public ::testing::TestWithParam<std::string> {};

// Every tensor of the PyTorch model's state_dict exists in ours with the same
// name, shape and dtype, and nothing else does.
TEST_P(ArchitectureShapesTest, StateDictNamesAndShapesMatchPyTorchLayout) {
  QF_ASSERT_REFERENCE("shapes.json");
  std::ifstream file(testing::ReferencePath("shapes.json"));
  const nlohmann::json all = nlohmann::json::parse(file);
  const nlohmann::json& reference = all.at(GetParam());

  std::map<std::string, TensorInfo> expected;
  for (const auto& entry : reference.at("tensors")) {
    expected[entry.at(0).get<std::string>()] = {entry.at(1).get<std::vector<int64_t>>(),
                                                entry.at(2).get<std::string>()};
  }

  absl::StatusOr<std::shared_ptr<Backbone>> model = MakeArchitecture(GetParam());
  ASSERT_TRUE(model.ok()) << model.status();
  std::map<std::string, TensorInfo> actual;
  int64_t num_parameters = 0;
  for (const auto& item : (*model)->named_parameters()) {
    actual[item.key()] = {item.value().sizes().vec(), DtypeName(item.value())};
    num_parameters += item.value().numel();
  }
  for (const auto& item : (*model)->named_buffers()) {
    actual[item.key()] = {item.value().sizes().vec(), DtypeName(item.value())};
  }

  std::vector<std::string> only_reference;
  std::vector<std::string> only_ours;
  std::vector<std::string> different;
  for (const auto& [name, info] : expected) {
    const auto it = actual.find(name);
    if (it == actual.end()) {
      only_reference.push_back(name);
    } else if (!(it->second == info)) {
      different.push_back(name);
    }
  }
  for (const auto& [name, info] : actual) {
    if (expected.count(name) == 0) only_ours.push_back(name);
  }
  EXPECT_THAT(only_reference, ::testing::IsEmpty());
  EXPECT_THAT(only_ours, ::testing::IsEmpty());
  EXPECT_THAT(different, ::testing::IsEmpty());
  EXPECT_EQ(num_parameters, reference.at("num_parameters").get<int64_t>());
}

INSTANTIATE_TEST_SUITE_P(All, ArchitectureShapesTest,
                         ::testing::Values("mobilefacenet", "iresnet18", "iresnet34", "iresnet50",
                                           "iresnet100"));

TEST(ArchitectureTest, FactoryKnowsExactlyTheListedNames) {
  for (const std::string& name : StateDictArchitectures()) {
    absl::StatusOr<std::shared_ptr<Backbone>> model = MakeArchitecture(name);
    ASSERT_TRUE(model.ok()) << name << ": " << model.status();
    EXPECT_EQ((*model)->spec().architecture, name);
  }
  const absl::StatusOr<std::shared_ptr<Backbone>> unknown = MakeArchitecture("iresnet200");
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(unknown.status().message()),
              AllOf(HasSubstr("iresnet200"), HasSubstr("mobilefacenet, iresnet18")));
}

TEST(ArchitectureTest, SpecIsArcFace112Rgb) {
  absl::StatusOr<std::shared_ptr<Backbone>> model = MakeArchitecture("mobilefacenet");
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSpec& spec = (*model)->spec();
  EXPECT_EQ(spec.embedding_dim, 512);
  EXPECT_EQ(spec.input.size, 112);
  EXPECT_EQ(spec.input.channel_order, ChannelOrder::kRgb);
  const LandmarkTemplate arcface = ArcFaceTemplate(112);
  for (size_t i = 0; i < arcface.points.size(); ++i) {
    EXPECT_EQ(spec.input.landmark_template.points[i], arcface.points[i]);
  }
  for (int c = 0; c < 3; ++c) {
    // Pixel 255 -> 1, 0 -> -1.
    EXPECT_FLOAT_EQ((255.f - spec.input.mean[c]) * spec.input.scale[c], 1.f);
    EXPECT_FLOAT_EQ((0.f - spec.input.mean[c]) * spec.input.scale[c], -1.f);
  }
}

TEST(ArchitectureTest, ForwardGivesOneEmbeddingPerImage) {
  absl::StatusOr<std::shared_ptr<MobileFaceNet>> model = MobileFaceNet::Create();
  ASSERT_TRUE(model.ok()) << model.status();
  (*model)->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor out = (*model)->forward(torch::rand({2, 3, 112, 112}) * 2 - 1);
  EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, 512}));
  EXPECT_TRUE(torch::isfinite(out).all().item<bool>());
}

TEST(ArchitectureTest, MobileFaceNetOptionsChangeTheLayout) {
  MobileFaceNetOptions options;
  options.embedding_dim = 128;
  options.blocks = {2, 8, 12, 4};  // "mbf_large" depth; its first stage is residual.
  absl::StatusOr<std::shared_ptr<MobileFaceNet>> model = MobileFaceNet::Create(options);
  ASSERT_TRUE(model.ok()) << model.status();
  const auto params = (*model)->named_parameters();
  EXPECT_NE(params.find("layers.1.layers.1.layers.0.layers.0.weight"), nullptr);
  ASSERT_NE(params.find("features.layers.2.weight"), nullptr);
  EXPECT_EQ(params["features.layers.2.weight"].sizes(), (std::vector<int64_t>{128, 512}));
  EXPECT_EQ((*model)->spec().embedding_dim, 128);
}

TEST(ArchitectureTest, InvalidOptionsAreRejected) {
  MobileFaceNetOptions mbf;
  mbf.blocks = {1, 0, 6, 2};
  EXPECT_EQ(MobileFaceNet::Create(mbf).status().code(), absl::StatusCode::kInvalidArgument);
  mbf = MobileFaceNetOptions();
  mbf.scale = 0;
  EXPECT_EQ(MobileFaceNet::Create(mbf).status().code(), absl::StatusCode::kInvalidArgument);

  EXPECT_EQ(IResNetOptions::ForDepth(20).status().code(), absl::StatusCode::kInvalidArgument);
  IResNetOptions iresnet;
  iresnet.dropout = 1.0;
  EXPECT_EQ(IResNet::Create(iresnet).status().code(), absl::StatusCode::kInvalidArgument);
  iresnet = IResNetOptions();
  iresnet.layers = {2, 2, -1, 2};
  EXPECT_EQ(IResNet::Create(iresnet).status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(ArchitectureTest, IResNetFreezesTheEmbeddingBatchNormScale) {
  absl::StatusOr<IResNetOptions> options = IResNetOptions::ForDepth(18);
  ASSERT_TRUE(options.ok()) << options.status();
  absl::StatusOr<std::shared_ptr<IResNet>> model = IResNet::Create(*options);
  ASSERT_TRUE(model.ok()) << model.status();
  auto params = (*model)->named_parameters();
  ASSERT_NE(params.find("features.weight"), nullptr);
  EXPECT_FALSE(params["features.weight"].requires_grad());
  EXPECT_TRUE(params["features.bias"].requires_grad());
  EXPECT_TRUE(params["fc.weight"].requires_grad());
  EXPECT_TRUE(torch::all(params["features.weight"] == 1).item<bool>());
}

}  // namespace
}  // namespace qf::nn
