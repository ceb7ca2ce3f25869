// The built-in model zoo: names, specs, errors, and loading every model.
#include "core/nn/model_zoo.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/unit/nn/test_assets.h"

namespace qf::nn {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(ModelZooTest, NamesTheThreeModelsDefaultFirst) {
  EXPECT_THAT(BuiltinModelNames(), ElementsAre("dlib-resnet", "faceres", "mobileface"));
  EXPECT_EQ(DefaultBuiltinModelName(), "dlib-resnet");
}

TEST(ModelZooTest, SpecsWithoutWeights) {
  const std::vector<std::pair<std::string, std::pair<int, int>>> want = {
      {"dlib-resnet", {150, 128}}, {"faceres", {224, 1024}}, {"mobileface", {112, 256}}};
  for (const auto& [name, sizes] : want) {
    absl::StatusOr<ModelSpec> spec = BuiltinModelSpec(name);
    ASSERT_TRUE(spec.ok()) << spec.status();
    EXPECT_EQ(spec->architecture, name);
    EXPECT_EQ(spec->input.size, sizes.first) << name;
    EXPECT_EQ(spec->embedding_dim, sizes.second) << name;
  }
}

TEST(ModelZooTest, UnknownNameIsNotFoundAndListsTheKnownOnes) {
  const absl::StatusOr<ModelSpec> spec = BuiltinModelSpec("facenet");
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(spec.status().message(), HasSubstr("dlib-resnet, faceres, mobileface"));
  EXPECT_EQ(LoadBuiltinModel("facenet", testing::AssetDir()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(ModelZooTest, MissingAssetsSayHowToFetchThem) {
  const std::string empty_dir = ::testing::TempDir() + "/no-assets-here";
  for (const std::string& name : BuiltinModelNames()) {
    const absl::StatusOr<std::shared_ptr<Backbone>> model = LoadBuiltinModel(name, empty_dir);
    EXPECT_EQ(model.status().code(), absl::StatusCode::kNotFound) << name;
    EXPECT_THAT(model.status().message(), HasSubstr("fetch_assets.sh")) << name;
  }
}

TEST(ModelZooTest, LoadsEveryBuiltinModel) {
  QF_REQUIRE_ASSETS(false, "dlib-resnet/face_recognition_model-weights_manifest.json",
                    "faceres/faceres.json", "mobileface/mobileface.json");
  torch::NoGradGuard no_grad;
  for (const std::string& name : BuiltinModelNames()) {
    absl::StatusOr<std::shared_ptr<Backbone>> model = LoadBuiltinModel(name, testing::AssetDir());
    ASSERT_TRUE(model.ok()) << model.status();
    const ModelSpec& spec = (*model)->spec();
    EXPECT_EQ(spec.architecture, name);
    EXPECT_FALSE((*model)->is_training()) << name;
    const torch::Tensor out =
        (*model)->forward(torch::rand({2, 3, spec.input.size, spec.input.size}) * 255);
    EXPECT_EQ(out.sizes(), (std::vector<int64_t>{2, spec.embedding_dim})) << name;
    EXPECT_TRUE(torch::isfinite(out).all().item<bool>()) << name;
  }
}

}  // namespace
}  // namespace qf::nn
