// Embeddings per second of each built-in model at batch 1 and 32, with 1 and
// 2 LibTorch threads, on random input tensors (the model's cost does not
// depend on the pixels). Prints a Markdown table; medians of repeated runs.
//
// Usage: embedding_throughput [--asset-dir DIR] [--repeats N] [--models a,b]
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/nn/model_zoo.h"

namespace {

double MedianSeconds(qf::nn::Backbone& model, const torch::Tensor& input, int repeats) {
  std::vector<double> times;
  for (int i = 0; i < repeats + 1; ++i) {
    const auto start = std::chrono::steady_clock::now();
    model.forward(input);
    const std::chrono::duration<double> elapsed = std::chrono::steady_clock::now() - start;
    if (i > 0) times.push_back(elapsed.count());  // The first run warms caches up.
  }
  std::nth_element(times.begin(), times.begin() + times.size() / 2, times.end());
  return times[times.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  std::string asset_dir = ".cache/assets";
  int repeats = 5;
  std::vector<std::string> models = qf::nn::BuiltinModelNames();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--asset-dir") asset_dir = argv[i + 1];
    if (flag == "--repeats") repeats = std::max(1, std::stoi(argv[i + 1]));
    if (flag == "--models") models = absl::StrSplit(argv[i + 1], ',');
  }
  torch::InferenceMode inference;
  std::cout << "| model | threads | batch | ms per batch (median) | embeddings/s |\n"
            << "| --- | --- | --- | --- | --- |\n";
  for (const std::string& name : models) {
    auto model = qf::nn::LoadBuiltinModel(name, asset_dir);
    if (!model.ok()) {
      std::cerr << model.status() << "\n";
      return 1;
    }
    const int size = (*model)->spec().input.size;
    for (int threads : {1, 2}) {
      torch::set_num_threads(threads);
      for (int batch : {1, 32}) {
        const torch::Tensor input = torch::randn({batch, 3, size, size});
        const double seconds = MedianSeconds(**model, input, repeats);
        std::printf("| %s | %d | %d | %.1f | %.1f |\n", name.c_str(), threads, batch,
                    seconds * 1e3, batch / seconds);
        std::fflush(stdout);
      }
    }
  }
  return 0;
}
