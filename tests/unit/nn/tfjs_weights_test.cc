// Decoding of synthetic TF.js weight manifests: every storage encoding, shard
// concatenation, and the errors for damaged or unsupported input.
#include "core/nn/tfjs_weights.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace qf::nn {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

class TfjsWeightsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::path(::testing::TempDir()) /
           ("tfjs_weights_" +
            std::string(::testing::UnitTest::GetInstance()->current_test_info()->name()));
    std::filesystem::remove_all(dir_);
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  void WriteFile(const std::string& name, const std::string& bytes) {
    std::ofstream out(dir_ / name, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }

  absl::StatusOr<TensorMap> Decode(const json& manifest) {
    return DecodeTfjsWeights(manifest, dir_.string(), "test-manifest");
  }

  std::filesystem::path dir_;
};

TEST_F(TfjsWeightsTest, DecodesFloat32AndInt32AcrossShards) {
  const std::vector<float> a = {1.5f, -2.25f, 3.f, 1e-30f, -0.f, 7.f};
  const std::vector<int32_t> b = {-7, 0, 2147483647};
  const std::string all = Bytes(a) + Bytes(b);
  // Split the stream mid-weight: shards are one concatenated byte stream.
  WriteFile("w.bin-1", all.substr(0, 10));
  WriteFile("w.bin-2", all.substr(10));
  const json manifest = json::parse(R"([{"paths": ["w.bin-1", "w.bin-2"], "weights": [
      {"name": "a", "shape": [2, 3], "dtype": "float32"},
      {"name": "b", "shape": [3], "dtype": "int32"}]}])");
  absl::StatusOr<TensorMap> weights = Decode(manifest);
  ASSERT_TRUE(weights.ok()) << weights.status();
  ASSERT_EQ(weights->size(), 2u);
  const torch::Tensor ta = weights->at("a");
  EXPECT_EQ(ta.scalar_type(), torch::kFloat32);
  EXPECT_EQ(ta.sizes(), (std::vector<int64_t>{2, 3}));
  EXPECT_TRUE(torch::equal(ta, torch::tensor(a).view({2, 3})));
  const torch::Tensor tb = weights->at("b");
  EXPECT_EQ(tb.scalar_type(), torch::kInt32);
  EXPECT_TRUE(torch::equal(tb, torch::tensor(b, torch::kInt32)));
}

TEST_F(TfjsWeightsTest, DecodesFloat16IncludingSubnormalsAndInfinity) {
  // IEEE binary16 bit patterns and their exact float32 values.
  const std::vector<uint16_t> bits = {0x3C00, 0xC000, 0x7BFF, 0x0001,
                                      0x8400, 0x7C00, 0x3555, 0x0000};
  const std::vector<float> want = {1.f,
                                   -2.f,
                                   65504.f,
                                   std::ldexp(1.f, -24),
                                   -std::ldexp(1.f, -14),
                                   std::numeric_limits<float>::infinity(),
                                   0.333251953125f,
                                   0.f};
  WriteFile("h.bin", Bytes(bits));
  const json manifest = json::parse(R"([{"paths": ["h.bin"], "weights": [
      {"name": "h", "shape": [2, 4], "dtype": "float32",
       "quantization": {"dtype": "float16", "original_dtype": "float32"}}]}])");
  absl::StatusOr<TensorMap> weights = Decode(manifest);
  ASSERT_TRUE(weights.ok()) << weights.status();
  const torch::Tensor h = weights->at("h");
  EXPECT_EQ(h.scalar_type(), torch::kFloat32);
  EXPECT_EQ(h.sizes(), (std::vector<int64_t>{2, 4}));
  const float* got = h.data_ptr<float>();
  for (size_t i = 0; i < want.size(); ++i) EXPECT_EQ(got[i], want[i]) << "value " << i;
}

TEST_F(TfjsWeightsTest, DequantizesUint8AndUint16AsQTimesScalePlusMin) {
  const std::vector<uint8_t> q8 = {0, 1, 3, 255};
  const std::vector<uint16_t> q16 = {0, 1000, 65535};
  WriteFile("q.bin", Bytes(q8) + Bytes(q16));
  const json manifest = json::parse(R"([{"paths": ["q.bin"], "weights": [
      {"name": "q8", "shape": [4], "dtype": "float32",
       "quantization": {"dtype": "uint8", "scale": 0.1, "min": 0.3}},
      {"name": "q16", "shape": [3], "dtype": "float32",
       "quantization": {"dtype": "uint16", "scale": 0.001, "min": -1.5}}]}])");
  absl::StatusOr<TensorMap> weights = Decode(manifest);
  ASSERT_TRUE(weights.ok()) << weights.status();
  // Computed in double, rounded once to float32, as tfjs-core does.
  const float* w8 = weights->at("q8").data_ptr<float>();
  for (size_t i = 0; i < q8.size(); ++i) {
    EXPECT_EQ(w8[i], static_cast<float>(q8[i] * 0.1 + 0.3)) << "q8 " << i;
  }
  EXPECT_FLOAT_EQ(w8[3], 25.8f);
  const float* w16 = weights->at("q16").data_ptr<float>();
  for (size_t i = 0; i < q16.size(); ++i) {
    EXPECT_EQ(w16[i], static_cast<float>(q16[i] * 0.001 + -1.5)) << "q16 " << i;
  }
}

TEST_F(TfjsWeightsTest, QuantizedInt32IsRoundedLikeMathRound) {
  WriteFile("i.bin", Bytes(std::vector<uint8_t>{0, 1, 3, 5}));
  const json manifest = json::parse(R"([{"paths": ["i.bin"], "weights": [
      {"name": "i", "shape": [4], "dtype": "int32",
       "quantization": {"dtype": "uint8", "scale": 0.5, "min": -0.5}}]}])");
  absl::StatusOr<TensorMap> weights = Decode(manifest);
  ASSERT_TRUE(weights.ok()) << weights.status();
  // -0.5 -> 0, 0 -> 0, 1 -> 1, 2 -> 2 (Math.round rounds halves up).
  EXPECT_TRUE(torch::equal(weights->at("i"), torch::tensor({0, 0, 1, 2}, torch::kInt32)));
}

TEST_F(TfjsWeightsTest, DecodesEveryGroupFromItsOwnShards) {
  WriteFile("g1.bin", Bytes(std::vector<float>{1.f, 2.f}));
  WriteFile("g2.bin", Bytes(std::vector<float>{3.f}));
  const json manifest = json::parse(R"([
      {"paths": ["g1.bin"], "weights": [{"name": "x", "shape": [2], "dtype": "float32"}]},
      {"paths": ["g2.bin"], "weights": [{"name": "y", "shape": [], "dtype": "float32"}]}])");
  absl::StatusOr<TensorMap> weights = Decode(manifest);
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_TRUE(torch::equal(weights->at("x"), torch::tensor({1.f, 2.f})));
  EXPECT_EQ(weights->at("y").dim(), 0);
  EXPECT_EQ(weights->at("y").item<float>(), 3.f);
}

TEST_F(TfjsWeightsTest, LoadsManifestFileWithShardsNextToIt) {
  WriteFile("m.bin", Bytes(std::vector<float>{4.f, 5.f}));
  WriteFile(
      "m-weights_manifest.json",
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [2], "dtype": "float32"}]}])");
  absl::StatusOr<TensorMap> weights =
      LoadTfjsWeightsManifest((dir_ / "m-weights_manifest.json").string());
  ASSERT_TRUE(weights.ok()) << weights.status();
  EXPECT_TRUE(torch::equal(weights->at("v"), torch::tensor({4.f, 5.f})));
}

TEST_F(TfjsWeightsTest, MissingShardIsNotFoundAndNamesTheShard) {
  const json manifest = json::parse(R"([{"paths": ["absent.bin"], "weights": [
      {"name": "v", "shape": [1], "dtype": "float32"}]}])");
  const absl::StatusOr<TensorMap> weights = Decode(manifest);
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(weights.status().message(), HasSubstr("absent.bin"));
  EXPECT_THAT(weights.status().message(), HasSubstr("test-manifest"));
}

TEST_F(TfjsWeightsTest, TruncatedShardIsDataLossNamingTheWeight) {
  WriteFile("t.bin", Bytes(std::vector<float>{1.f, 2.f, 3.f}).substr(0, 10));
  const json manifest = json::parse(R"([{"paths": ["t.bin"], "weights": [
      {"name": "first", "shape": [1], "dtype": "float32"},
      {"name": "second", "shape": [2], "dtype": "float32"}]}])");
  const absl::StatusOr<TensorMap> weights = Decode(manifest);
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(weights.status().message(), HasSubstr("'second'"));
  EXPECT_THAT(weights.status().message(), HasSubstr("truncated"));
}

TEST_F(TfjsWeightsTest, TruncatedQuantizedShardIsDataLoss) {
  WriteFile("t.bin", Bytes(std::vector<uint16_t>{1, 2, 3}));  // 6 bytes, 8 needed.
  const json manifest = json::parse(R"([{"paths": ["t.bin"], "weights": [
      {"name": "h", "shape": [4], "dtype": "float32", "quantization": {"dtype": "float16"}}]}])");
  EXPECT_EQ(Decode(manifest).status().code(), absl::StatusCode::kDataLoss);
}

TEST_F(TfjsWeightsTest, ShardLongerThanItsWeightsIsDataLoss) {
  WriteFile("l.bin", Bytes(std::vector<float>{1.f, 2.f}));
  const json manifest = json::parse(R"([{"paths": ["l.bin"], "weights": [
      {"name": "v", "shape": [1], "dtype": "float32"}]}])");
  const absl::StatusOr<TensorMap> weights = Decode(manifest);
  EXPECT_EQ(weights.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(weights.status().message(), HasSubstr("8 bytes but the weights use 4"));
}

TEST_F(TfjsWeightsTest, UnknownDtypesAreUnimplemented) {
  WriteFile("u.bin", std::string(8, '\0'));
  const json complex = json::parse(R"([{"paths": ["u.bin"], "weights": [
      {"name": "c", "shape": [1], "dtype": "complex64"}]}])");
  const absl::StatusOr<TensorMap> a = Decode(complex);
  EXPECT_EQ(a.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(a.status().message(), HasSubstr("complex64"));

  const json int4 = json::parse(R"([{"paths": ["u.bin"], "weights": [
      {"name": "q", "shape": [8], "dtype": "float32",
       "quantization": {"dtype": "int4", "scale": 1, "min": 0}}]}])");
  const absl::StatusOr<TensorMap> b = Decode(int4);
  EXPECT_EQ(b.status().code(), absl::StatusCode::kUnimplemented);
  EXPECT_THAT(b.status().message(), HasSubstr("int4"));
}

TEST_F(TfjsWeightsTest, MalformedEntriesAreInvalidArgument) {
  WriteFile("m.bin", std::string(4, '\0'));
  const char* bad_manifests[] = {
      R"({"paths": ["m.bin"]})",  // Not an array.
      R"([{"weights": []}])",     // No paths.
      R"([{"paths": ["m.bin"], "weights": [{"shape": [1], "dtype": "float32"}]}])",
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [-1], "dtype": "float32"}]}])",
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [1048576, 1048576, 2],
          "dtype": "float32"}]}])",                                        // 2^41 values.
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [4], "dtype": "float32",
          "quantization": {"dtype": "uint8", "min": 0}}]}])",              // No scale.
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [2], "dtype": "int32",
          "quantization": {"dtype": "float16"}}]}])",                      // float16 needs float32.
      R"([{"paths": ["m.bin"], "weights": [{"name": "v", "shape": [2], "dtype": "float32",
          "quantization": {"dtype": "uint8", "scale": 1, "min": 0}},
          {"name": "v", "shape": [2], "dtype": "float32",
          "quantization": {"dtype": "uint8", "scale": 1, "min": 0}}]}])",  // Duplicate.
  };
  for (const char* text : bad_manifests) {
    EXPECT_EQ(Decode(json::parse(text)).status().code(), absl::StatusCode::kInvalidArgument)
        << text;
  }
}

TEST_F(TfjsWeightsTest, InvalidJsonFileIsInvalidArgument) {
  WriteFile("bad-weights_manifest.json", "[{\"paths\": ");
  EXPECT_EQ(LoadTfjsWeightsManifest((dir_ / "bad-weights_manifest.json").string()).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(LoadTfjsWeightsManifest((dir_ / "none.json").string()).status().code(),
            absl::StatusCode::kNotFound);
}

TEST(TfjsWeightLookupTest, ChecksNameAndShape) {
  TensorMap weights;
  weights["w"] = torch::zeros({3, 3, 4, 8});
  EXPECT_TRUE(GetTfjsWeight(weights, "w", {3, 3, 4, 8}).ok());
  const absl::StatusOr<torch::Tensor> wrong = GetTfjsWeight(weights, "w", {3, 3, 8, 4});
  EXPECT_EQ(wrong.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(wrong.status().message(), HasSubstr("[3,3,4,8]"));
  EXPECT_EQ(GetTfjsWeight(weights, "x", {1}).status().code(), absl::StatusCode::kNotFound);
}

TEST(TfjsLayoutTest, ConvKernelBecomesOutInHW) {
  const torch::Tensor hwio = torch::randn({3, 2, 4, 5});
  const torch::Tensor oihw = TfjsConvKernelToTorch(hwio);
  ASSERT_EQ(oihw.sizes(), (std::vector<int64_t>{5, 4, 3, 2}));
  EXPECT_TRUE(oihw.is_contiguous());
  EXPECT_EQ(oihw[4][1][2][0].item<float>(), hwio[2][0][1][4].item<float>());
  EXPECT_EQ(oihw[0][3][1][1].item<float>(), hwio[1][1][3][0].item<float>());
}

TEST(TfjsLayoutTest, DepthwiseKernelGroupsChannelMajor) {
  const torch::Tensor hwcm = torch::randn({3, 3, 4, 2});  // 4 channels, multiplier 2.
  const torch::Tensor grouped = TfjsDepthwiseKernelToTorch(hwcm);
  ASSERT_EQ(grouped.sizes(), (std::vector<int64_t>{8, 1, 3, 3}));
  // TF output channel c * 2 + j is channel c's j-th filter.
  EXPECT_EQ(grouped[2 * 3 + 1][0][0][2].item<float>(), hwcm[0][2][3][1].item<float>());
  EXPECT_EQ(grouped[2 * 1 + 0][0][2][1].item<float>(), hwcm[2][1][1][0].item<float>());
}

}  // namespace
}  // namespace qf::nn
