#include "tests/unit/nn/qft_io.h"

#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/strings/str_cat.h"

namespace qf::nn::testing {

absl::Status WriteQft(const std::string& path, const torch::Tensor& tensor) {
  const torch::Tensor values = tensor.to(torch::kFloat32).contiguous();
  std::ofstream out(path, std::ios::binary);
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  out.write("QFT1", 4);
  const auto rank = static_cast<uint32_t>(values.dim());
  out.write(reinterpret_cast<const char*>(&rank), 4);
  for (const int64_t d : values.sizes()) {
    const auto dim = static_cast<uint32_t>(d);
    out.write(reinterpret_cast<const char*>(&dim), 4);
  }
  out.write(reinterpret_cast<const char*>(values.data_ptr<float>()),
            static_cast<std::streamsize>(values.numel() * sizeof(float)));
  return out ? absl::OkStatus() : absl::InternalError(absl::StrCat("error writing ", path));
}

absl::StatusOr<torch::Tensor> ReadQft(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto u32 = [&](size_t offset) {
    uint32_t v = 0;
    std::memcpy(&v, bytes.data() + offset, 4);
    return v;
  };
  if (bytes.size() < 8 || bytes.compare(0, 4, "QFT1") != 0) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": not a QFT1 file"));
  }
  const uint32_t rank = u32(4);
  if (bytes.size() < 8 + 4 * static_cast<size_t>(rank)) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": truncated header"));
  }
  std::vector<int64_t> shape;
  int64_t count = 1;
  for (uint32_t i = 0; i < rank; ++i) {
    shape.push_back(u32(8 + 4 * i));
    count *= shape.back();
  }
  const size_t offset = 8 + 4 * static_cast<size_t>(rank);
  if (bytes.size() != offset + static_cast<size_t>(count) * 4) {
    return absl::InvalidArgumentError(absl::StrCat(path, ": size does not match its shape"));
  }
  torch::Tensor tensor = torch::empty(shape, torch::kFloat32);
  std::memcpy(tensor.data_ptr<float>(), bytes.data() + offset, static_cast<size_t>(count) * 4);
  return tensor;
}

}  // namespace qf::nn::testing
