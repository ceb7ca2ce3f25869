// Parity: state_dicts written by PyTorch's own torch.save, loaded into our
// modules, compute what the PyTorch reference models computed (eval mode,
// random weights and BN running statistics; see make_reference.py).
#include <ostream>
#include <string>

#include <gtest/gtest.h>

#include "absl/strings/str_format.h"
#include "core/nn/state_dict_importer.h"
#include "tests/unit/nn_import/reference_files.h"

namespace qf::nn {
namespace {

constexpr double kTolerance = 1e-4;

struct ParityCase {
  std::string architecture;
  std::string file;
  std::string reference_key;  // Output in reference.pt.
};

void PrintTo(const ParityCase& c, std::ostream* os) { *os << c.file << " as " << c.architecture; }

class ParityTest : public ::testing::TestWithParam<ParityCase> {};

TEST_P(ParityTest, EmbeddingsMatchPyTorch) {
  const ParityCase& c = GetParam();
  QF_ASSERT_REFERENCE("reference.pt");
  QF_ASSERT_REFERENCE(c.file);
  const absl::StatusOr<StateDict> reference = ReadStateDict(testing::ReferencePath("reference.pt"));
  ASSERT_TRUE(reference.ok()) << reference.status();
  const torch::Tensor* input = reference->find("input");
  const torch::Tensor* expected = reference->find(c.reference_key);
  ASSERT_NE(input, nullptr);
  ASSERT_NE(expected, nullptr);

  absl::StatusOr<std::shared_ptr<Backbone>> model =
      ImportStateDict(c.architecture, testing::ReferencePath(c.file));
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_FALSE((*model)->is_training());
  torch::NoGradGuard no_grad;
  const torch::Tensor actual = (*model)->forward(*input);
  ASSERT_EQ(actual.sizes(), expected->sizes());
  const double max_diff = (actual - *expected).abs().max().item<double>();
  EXPECT_LE(max_diff, kTolerance) << "max |ours - PyTorch| for " << c.file;
  // The reference is not degenerate: the embeddings of different images differ.
  EXPECT_GT((expected->select(0, 0) - expected->select(0, 1)).abs().max().item<double>(), 0.1);
  RecordProperty("max_abs_diff", absl::StrFormat("%.3g", max_diff));
}

INSTANTIATE_TEST_SUITE_P(
    All, ParityTest,
    ::testing::Values(ParityCase{"mobilefacenet", "mobilefacenet.pt", "mobilefacenet"},
                      ParityCase{"iresnet18", "iresnet18.pt", "iresnet18"},
                      // nn.DataParallel names: "module." prefix on every tensor.
                      ParityCase{"mobilefacenet", "mobilefacenet_dataparallel.pt", "mobilefacenet"},
                      ParityCase{"mobilefacenet", "mobilefacenet_protocol4.pt", "mobilefacenet"},
                      // float16 tensors, converted to our float32 parameters.
                      ParityCase{"mobilefacenet", "mobilefacenet_fp16.pt", "mobilefacenet_fp16"}),
    [](const ::testing::TestParamInfo<ParityCase>& info) {
      std::string name = info.param.file.substr(0, info.param.file.find('.'));
      return name;
    });

// The loaded running statistics are used (eval mode), not the defaults.
TEST(ImportedStateTest, RunningStatisticsAreImported) {
  QF_ASSERT_REFERENCE("iresnet18.pt");
  const absl::StatusOr<StateDict> file = ReadStateDict(testing::ReferencePath("iresnet18.pt"));
  ASSERT_TRUE(file.ok()) << file.status();
  absl::StatusOr<std::shared_ptr<Backbone>> model = MakeArchitecture("iresnet18");
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_TRUE(LoadStateDict(*file, **model).ok());
  const auto buffers = (*model)->named_buffers();
  for (const char* name : {"layer2.1.bn3.running_var", "features.running_mean",
                           "layer1.0.downsample.1.num_batches_tracked"}) {
    ASSERT_NE(file->find(name), nullptr) << name;
    EXPECT_TRUE(torch::equal(buffers[name], *file->find(name))) << name;
  }
  EXPECT_FALSE(torch::all(buffers["features.running_var"] == 1).item<bool>());
}

}  // namespace
}  // namespace qf::nn
