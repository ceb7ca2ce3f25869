// Parity of our LibTorch ports with the original TF.js models, run by an
// implementation we did not write: tfjs-core's pure-JavaScript CPU backend
// (tools/tfjs-reference/reference.js, run here with node as a subprocess).
//
// Each model sees the same deterministic batch on both sides: uniform noise,
// smooth noise, a grating, a synthetic face drawn on the model's landmark
// template, and seeded random crops of larger synthetic faces, all
// normalized per the model's spec. Every embedding must reach cosine >= 0.9999
// with its reference.
#include <gtest/gtest.h>

#include <opencv2/imgproc.hpp>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <iterator>
#include <string>
#include <vector>

#include "core/nn/model_zoo.h"
#include "tests/unit/nn/qft_io.h"
#include "tests/unit/nn/test_assets.h"

namespace qf::nn {
namespace {

constexpr double kMinCosine = 0.9999;
constexpr double kPi = 3.14159265358979323846;

// A cartoon face in RGB whose eyes, nose and mouth corners sit on `points`
// (crop coordinates scaled by `zoom` and shifted by `offset`), on a size x size canvas.
cv::Mat DrawFace(int size, const LandmarkTemplate& tmpl, float zoom, cv::Point2f offset,
                 cv::RNG& rng) {
  cv::Mat img(size, size, CV_8UC3);
  const int tone = rng.uniform(60, 200);
  for (int y = 0; y < size; ++y) {  // Vertical background gradient.
    img.row(y).setTo(cv::Scalar(tone, tone * 0.9 + y * 40 / size, 255 - tone));
  }
  const auto at = [&](int i) {
    return cv::Point2f(tmpl.points[i][0] * zoom + offset.x, tmpl.points[i][1] * zoom + offset.y);
  };
  const float eye_dist = static_cast<float>(cv::norm(at(1) - at(0)));
  const cv::Scalar skin(rng.uniform(170, 240), rng.uniform(120, 190), rng.uniform(90, 160));
  const cv::Point2f center = (at(0) + at(1) + at(3) + at(4)) * 0.25f;
  cv::ellipse(img, center, cv::Size2f(eye_dist * 2.f, eye_dist * 2.7f), 0, 0, 360, skin, cv::FILLED,
              cv::LINE_AA);
  cv::ellipse(img, center - cv::Point2f(0, eye_dist * 1.3f),
              cv::Size2f(eye_dist * 1.9f, eye_dist * 1.2f), 0, 180, 360, cv::Scalar(40, 30, 20),
              cv::FILLED, cv::LINE_AA);  // Hair.
  for (int eye = 0; eye < 2; ++eye) {
    cv::ellipse(img, at(eye), cv::Size2f(eye_dist * 0.22f, eye_dist * 0.12f), 0, 0, 360,
                cv::Scalar(245, 245, 245), cv::FILLED, cv::LINE_AA);
    cv::circle(img, at(eye), static_cast<int>(eye_dist * 0.09f) + 1, cv::Scalar(50, 35, 25),
               cv::FILLED, cv::LINE_AA);
  }
  cv::circle(img, at(2), static_cast<int>(eye_dist * 0.12f) + 1, skin * 0.75, cv::FILLED,
             cv::LINE_AA);
  cv::line(img, at(3), at(4), cv::Scalar(150, 50, 60),
           std::max(1, static_cast<int>(eye_dist * 0.1f)), cv::LINE_AA);
  cv::GaussianBlur(img, img, cv::Size(3, 3), 0.8);
  cv::Mat noise(size, size, CV_16SC3);  // Signed, so the noise is zero-mean.
  rng.fill(noise, cv::RNG::NORMAL, 0, 6);
  cv::add(img, noise, img, cv::noArray(), CV_8U);
  return img;
}

torch::Tensor MatToChw(const cv::Mat& rgb) {
  cv::Mat f;
  rgb.convertTo(f, CV_32FC3);
  return torch::from_blob(f.data, {f.rows, f.cols, 3}, torch::kFloat32)
      .permute({2, 0, 1})
      .clone(at::MemoryFormat::Contiguous);
}

// N x 3 x S x S pixels, RGB, 0..255.
torch::Tensor MakePixels(const ModelSpec& spec) {
  const int s = spec.input.size;
  torch::manual_seed(20240229);
  cv::RNG rng(1234);
  std::vector<torch::Tensor> images;
  images.push_back(torch::rand({3, s, s}) * 255);  // Uniform noise.
  images.push_back(
      torch::nn::functional::interpolate(torch::rand({1, 3, 5, 5}) * 255,
                                         torch::nn::functional::InterpolateFuncOptions()
                                             .size(std::vector<int64_t>{s, s})
                                             .mode(torch::kBilinear)
                                             .align_corners(false))
          .squeeze(0));  // Smooth noise.
  const torch::Tensor coords = torch::arange(s, torch::kFloat32);
  const torch::Tensor grating =
      127.5 + 100 * torch::sin(2 * kPi * (3 * coords.view({s, 1}) + 5 * coords.view({1, s})) / s);
  images.push_back(torch::stack({grating, grating.flip(0), grating.t()}));
  images.push_back(MatToChw(DrawFace(s, spec.input.landmark_template, 1.f, {0, 0}, rng)));
  for (int crop = 0; crop < 2; ++crop) {
    // A face drawn 1.3x larger, cropped at a seeded offset: off-template.
    const int big = s * 13 / 10;
    const cv::Mat face = DrawFace(big, spec.input.landmark_template, 1.2f,
                                  {rng.uniform(0.f, 0.1f * s), rng.uniform(0.f, 0.1f * s)}, rng);
    const cv::Rect roi(rng.uniform(0, big - s), rng.uniform(0, big - s), s, s);
    images.push_back(MatToChw(face(roi).clone()));
  }
  return torch::stack(images).clamp(0, 255);
}

torch::Tensor Normalize(const torch::Tensor& rgb, const InputSpec& spec) {
  torch::Tensor x = spec.channel_order == ChannelOrder::kBgr ? rgb.flip(1) : rgb;
  const torch::Tensor mean = torch::tensor({spec.mean[0], spec.mean[1], spec.mean[2]});
  const torch::Tensor scale = torch::tensor({spec.scale[0], spec.scale[1], spec.scale[2]});
  return ((x - mean.view({1, 3, 1, 1})) * scale.view({1, 3, 1, 1})).contiguous();
}

std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

class TfjsParityTest : public ::testing::TestWithParam<std::string> {};

TEST_P(TfjsParityTest, EmbeddingsMatchTheOriginalTfjsModel) {
  const std::string name = GetParam();
  QF_REQUIRE_ASSETS(true, "dlib-resnet/face_recognition_model-weights_manifest.json",
                    "faceres/faceres.json", "mobileface/mobileface.json");
  absl::StatusOr<std::shared_ptr<Backbone>> model = LoadBuiltinModel(name, testing::AssetDir());
  ASSERT_TRUE(model.ok()) << model.status();
  const ModelSpec& spec = (*model)->spec();
  const torch::Tensor input = Normalize(MakePixels(spec), spec.input);

  const std::string dir = ::testing::TempDir() + "/parity-" + name;
  std::filesystem::create_directories(dir);
  const std::string in_path = dir + "/input.qft";
  const std::string out_path = dir + "/reference.qft";
  const std::string log_path = dir + "/node.log";
  std::filesystem::remove(out_path);
  ASSERT_TRUE(testing::WriteQft(in_path, input).ok());

  const char* node_env = std::getenv("QF_NODE");
  const std::string node = node_env != nullptr && *node_env != '\0' ? node_env : "node";
  const std::string command = "'" + node + "' '" + testing::ReferenceDir() +
                              "/reference.js' --model " + name + " --assets '" +
                              testing::AssetDir() + "' --input '" + in_path + "' --output '" +
                              out_path + "' > '" + log_path + "' 2>&1";
  ASSERT_EQ(std::system(command.c_str()), 0) << command << "\n" << ReadText(log_path);
  absl::StatusOr<torch::Tensor> reference = testing::ReadQft(out_path);
  ASSERT_TRUE(reference.ok()) << reference.status();

  torch::NoGradGuard no_grad;
  const torch::Tensor ours = (*model)->forward(input);
  ASSERT_EQ(ours.sizes(), reference->sizes());
  ASSERT_EQ(ours.size(1), spec.embedding_dim);
  const torch::Tensor a = ours.to(torch::kFloat64);
  const torch::Tensor b = reference->to(torch::kFloat64);
  for (int64_t i = 0; i < a.size(0); ++i) {
    const double ref_norm = b[i].norm().item<double>();
    // A degenerate (all-zero) reference would make the comparison vacuous.
    ASSERT_GT(ref_norm, 1e-3) << name << " input " << i << " has a zero reference embedding";
    const double cosine = (a[i].dot(b[i]) / (a[i].norm() * ref_norm)).item<double>();
    const double rel_diff = ((a[i] - b[i]).abs().max() / b[i].abs().max()).item<double>();
    std::cout << "[parity] " << name << " input " << i << " 1-cosine " << std::scientific
              << std::setprecision(2) << 1.0 - cosine << " max|diff|/max|ref| " << rel_diff
              << std::defaultfloat << "\n";
    EXPECT_GE(cosine, kMinCosine) << name << " input " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(BuiltinModels, TfjsParityTest,
                         ::testing::Values("dlib-resnet", "faceres", "mobileface"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           std::string id = info.param;
                           for (char& c : id) {
                             if (c == '-') c = '_';
                           }
                           return id;
                         });

}  // namespace
}  // namespace qf::nn
