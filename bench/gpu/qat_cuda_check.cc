// Proves and times the CUDA path of QAT: the same core/quant code that runs
// on the CPU, on torch::kCUDA when the device is "cuda". Trains a
// fake-quantized dlib-resnet student against its teacher on Gaussian-noise
// images for --steps steps and prints one JSON line: device, steps/s,
// images/s, first and last loss.
//
// Usage: qat_cuda_check --asset-dir DIR [--device cuda|cpu] [--steps N]
//                       [--batch-size B] [--bits w4a4] [--threads T]
// bench/gpu/run_on_device.sh builds and runs it on a GPU machine with only
// LibTorch there (it needs no OpenCV, gRPC or database).
#include <torch/torch.h>

#include <chrono>
#include <iostream>
#include <string>

#include <nlohmann/json.hpp>

#include "core/nn/dlib_resnet.h"
#include "core/quant/distiller.h"
#include "core/quant/fake_quant_hooks.h"
#include "core/quant/quant_bits.h"
#include "core/synth/noise_source.h"

int main(int argc, char** argv) {
  std::string asset_dir = ".cache/assets";
  std::string device_name = torch::cuda::is_available() ? "cuda" : "cpu";
  std::string bits_text = "w4a4";
  int64_t steps = 100;
  int64_t batch_size = 32;
  int threads = 0;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    const std::string value = argv[i + 1];
    if (flag == "--asset-dir") asset_dir = value;
    if (flag == "--device") device_name = value;
    if (flag == "--steps") steps = std::stoll(value);
    if (flag == "--batch-size") batch_size = std::stoll(value);
    if (flag == "--bits") bits_text = value;
    if (flag == "--threads") threads = std::stoi(value);
  }
  if (threads > 0) torch::set_num_threads(threads);
  const torch::Device device(device_name == "cuda" ? torch::kCUDA : torch::kCPU);

  auto teacher = qf::nn::DlibResnet::FromAssets(asset_dir);
  auto student = qf::nn::DlibResnet::FromAssets(asset_dir);
  auto bits = qf::quant::ParseQuantBits(bits_text);
  if (!teacher.ok() || !student.ok() || !bits.ok()) {
    std::cerr << "setup failed: " << teacher.status() << " " << student.status() << " "
              << bits.status() << "\n";
    return 1;
  }
  qf::quant::FakeQuantOptions quant_options;
  quant_options.bits = *bits;
  auto hooks = qf::quant::FakeQuantHooks::Attach(**student, quant_options);
  if (!hooks.ok()) {
    std::cerr << hooks.status() << "\n";
    return 1;
  }
  qf::synth::NoiseSource source((*teacher)->spec().input, /*seed=*/1);
  qf::quant::QatOptions options;
  options.steps = steps;
  options.batch_size = batch_size;
  options.warmup_steps = std::min<int64_t>(50, steps / 2);

  const auto start = std::chrono::steady_clock::now();
  auto report = qf::quant::RunQat(**teacher, **student, **hooks, source, options, device);
  const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
  if (!report.ok()) {
    std::cerr << report.status() << "\n";
    return 1;
  }
  nlohmann::json out = {
      {"device", device_name},
      {"device_name", device_name == "cuda" ? "cuda:0" : "cpu"},
      {"threads", torch::get_num_threads()},
      {"bits", bits_text},
      {"steps", report->steps},
      {"batch_size", batch_size},
      {"train_seconds", report->seconds},
      {"wall_seconds", elapsed.count()},
      {"steps_per_second", report->steps / report->seconds},
      {"images_per_second", report->steps * batch_size / report->seconds},
      {"first_loss", report->first_loss},
      {"last_loss", report->last_loss},
  };
  std::cout << out.dump() << std::endl;
  return 0;
}
