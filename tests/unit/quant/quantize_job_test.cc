// RunQuantizeJob's checks of the training source, which must refuse a job
// before it loads or generates any training data.
#include "core/quant/quantize_job.h"

#include <gtest/gtest.h>

#include <string>

#include "core/nn/dlib_resnet.h"
#include "core/synth/tensor_set_source.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::quant {
namespace {

QuantizeJobConfig DlibResnetJob(const std::string& source) {
  QuantizeJobConfig config;
  config.teacher = "dlib-resnet";
  config.asset_dir = nn::testing::AssetDir();
  config.bits = {4, 4};
  config.source = source;
  // A job these checks let through calibrates on four images and ends, so a
  // missing check fails the test quickly instead of training for minutes.
  config.method = QuantMethod::kPtq;
  config.ptq.num_images = 4;
  config.ptq.batch_size = 4;
  return config;
}

TEST(QuantizeJobTest, UnknownSourceIsRefusedWithTheAcceptedNames) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  const auto result = RunQuantizeJob(DlibResnetJob("webcam"), nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("unknown source 'webcam'"), std::string::npos)
      << result.status();
  EXPECT_NE(result.status().message().find("inverted-faces"), std::string::npos) << result.status();
}

TEST(QuantizeJobTest, AugmentationIsRefusedForSourcesThatMakeNewImagesEveryBatch) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  for (const std::string source : {"noise", "procedural", "procedural+noise", "generator"}) {
    QuantizeJobConfig config = DlibResnetJob(source);
    config.augmentation = synth::FaceViewAugmentation();
    const auto result = RunQuantizeJob(config, nullptr);
    ASSERT_FALSE(result.ok()) << source;
    EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument) << source;
    EXPECT_NE(result.status().message().find("augmentation applies to the sources builtin"),
              std::string::npos)
        << result.status();
  }
}

TEST(QuantizeJobTest, AugmentationPassesTheSourceCheckForAnImageSet) {
  QF_REQUIRE_ASSETS(false, nn::DlibResnet::kManifestPath);
  // A folder that is not declared synthetic: the job fails on that, after the
  // augmentation check let it through.
  QuantizeJobConfig config = DlibResnetJob("folder");
  config.folder = ::testing::TempDir();
  config.augmentation = synth::FaceViewAugmentation();
  const auto result = RunQuantizeJob(config, nullptr);
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kFailedPrecondition) << result.status();
  EXPECT_NE(result.status().message().find("not declared synthetic"), std::string::npos)
      << result.status();
}

}  // namespace
}  // namespace qf::quant
