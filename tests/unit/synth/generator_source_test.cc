// TorchScriptGenerator (validation of user generators) and GeneratorSource
// (their images as teacher input), with generators built here by torch::jit.
#include <gtest/gtest.h>
#include <torch/script.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "core/synth/generator_source.h"
#include "core/synth/torchscript_generator.h"

namespace qf::synth {
namespace {
namespace fs = std::filesystem;

std::string Save(const std::string& name, const std::string& body, int64_t latent_dim_attr) {
  const fs::path path = fs::temp_directory_path() /
                        ("qf_generator_test_" + name + "_" + std::to_string(::getpid()) + ".pt");
  torch::jit::Module module("Gen");
  if (latent_dim_attr > 0) {
    module.register_attribute("latent_dim", c10::IntType::get(), latent_dim_attr);
  }
  module.define(body);
  module.save(path.string());
  return path.string();
}

// Constant images: every pixel is the latent's first value, clamped to
// [-1, 1]; 8 x 12 (not square) to exercise the resize.
constexpr char kConstant[] = R"(
def forward(self, z):
    v = torch.clamp(z[:, 0], -1.0, 1.0)
    return v.reshape([z.size(0), 1, 1, 1]).expand([z.size(0), 3, 8, 12]).contiguous()
)";

nn::InputSpec Spec() {
  nn::InputSpec spec;
  spec.size = 16;
  spec.mean = {127.5f, 127.5f, 127.5f};
  spec.scale = {1.f / 127.5f, 1.f / 127.5f, 1.f / 127.5f};
  return spec;
}

TEST(TorchScriptGeneratorTest, LoadsAndProbesTheImageSize) {
  auto generator = TorchScriptGenerator::Load(Save("constant", kConstant, 4), 0);
  ASSERT_TRUE(generator.ok()) << generator.status();
  EXPECT_EQ((*generator)->info().latent_dim, 4);
  EXPECT_EQ((*generator)->info().height, 8);
  EXPECT_EQ((*generator)->info().width, 12);
  // An explicit latent_dim wins over the attribute.
  auto explicit_dim = TorchScriptGenerator::Load(Save("constant2", kConstant, 0), 6);
  ASSERT_TRUE(explicit_dim.ok()) << explicit_dim.status();
  EXPECT_EQ((*explicit_dim)->info().latent_dim, 6);
  EXPECT_EQ((*explicit_dim)->Generate(torch::zeros({2, 5})).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(TorchScriptGeneratorTest, RefusesFilesThatBreakTheContract) {
  const auto refused = [](const std::string& path, int64_t latent_dim) {
    return TorchScriptGenerator::Load(path, latent_dim).status();
  };
  const fs::path junk =
      fs::temp_directory_path() / ("qf_generator_junk_" + std::to_string(::getpid()));
  std::ofstream(junk) << "not a zip";
  EXPECT_EQ(refused(junk.string(), 4).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused(Save("nodim", kConstant, 0), 0).message().find("latent_dim"),
            std::string::npos);
  const std::string gray = Save("gray", R"(
def forward(self, z):
    return torch.zeros([z.size(0), 1, 16, 16])
)",
                                4);
  EXPECT_NE(refused(gray, 0).message().find("[N, 3, H, W]"), std::string::npos);
  const std::string integer = Save("integer", R"(
def forward(self, z):
    return torch.zeros([z.size(0), 3, 16, 16]).long()
)",
                                   4);
  EXPECT_NE(refused(integer, 0).message().find("float"), std::string::npos);
  const std::string tuple = Save("tuple", R"(
def forward(self, z):
    return (z, z)
)",
                                 4);
  EXPECT_NE(refused(tuple, 0).message().find("one tensor"), std::string::npos);
}

TEST(GeneratorSourceTest, MapsMinusOneToOneOntoPixelsAtTheTeacherSize) {
  auto generator = TorchScriptGenerator::Load(Save("source", kConstant, 4), 0);
  ASSERT_TRUE(generator.ok()) << generator.status();
  GeneratorSource source(*std::move(generator), Spec(), 11, {{"model", "models/gen"}});
  const torch::Tensor batch = source.NextBatch(5);
  ASSERT_EQ(batch.sizes(), (std::vector<int64_t>{5, 3, 16, 16}));
  // Constant images stay constant through the resize; with this spec the
  // normalized value equals the generator's clamped output.
  const torch::Tensor per_image = batch.flatten(1);
  EXPECT_TRUE(torch::allclose(per_image.amin(1), per_image.amax(1), 1e-4, 1e-4));
  EXPECT_LE(per_image.abs().max().item<float>(), 1.0f + 1e-5f);
  EXPECT_GT(per_image.std().item<float>(), 0.1f);  // Different latents, different images.
  // Seeded: the same seed gives the same batches.
  GeneratorSource again(*TorchScriptGenerator::Load(Save("source2", kConstant, 4), 0), Spec(), 11);
  EXPECT_TRUE(torch::equal(again.NextBatch(5), batch));
  const nlohmann::json spec = source.spec();
  EXPECT_EQ(spec["kind"], "generator");
  EXPECT_EQ(spec["model"], "models/gen");
  EXPECT_EQ(spec["latent_dim"], 4);
  EXPECT_EQ(spec["seed"], 11);
}

}  // namespace
}  // namespace qf::synth
