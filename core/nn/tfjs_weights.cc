#include "core/nn/tfjs_weights.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/util/status_macros.h"

// The shards are little-endian; decoding copies their bytes straight into
// host values, which is only right on a little-endian host (x86-64, arm64).
static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "tfjs weight decoding assumes little-endian");

namespace qf::nn {
namespace {

using nlohmann::json;

constexpr int64_t kMaxValues = int64_t{1} << 40;

std::string ShapeString(c10::IntArrayRef shape) {
  return absl::StrCat("[", absl::StrJoin(shape, ","), "]");
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open ", path));
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return absl::DataLossError(absl::StrCat("error reading ", path));
  return bytes;
}

// The decoded form of one manifest entry's header, validated.
struct WeightSpec {
  std::string name;
  std::vector<int64_t> shape;
  int64_t count = 1;
  std::string dtype;        // float32, int32 or bool.
  std::string quant_dtype;  // "", uint8, uint16 or float16.
  double scale = 0.0;
  double min = 0.0;

  int64_t BytesPerValue() const {
    if (quant_dtype == "uint8" || dtype == "bool") return 1;
    if (quant_dtype == "uint16" || quant_dtype == "float16") return 2;
    return 4;
  }
};

absl::StatusOr<WeightSpec> ParseSpec(const json& entry, const std::string& where) {
  WeightSpec spec;
  if (!entry.is_object() || !entry.contains("name") || !entry["name"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(where, ": weight entry without a name"));
  }
  spec.name = entry["name"].get<std::string>();
  const std::string what = absl::StrCat(where, ": weight '", spec.name, "'");
  if (!entry.contains("shape") || !entry["shape"].is_array()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no shape array"));
  }
  for (const json& dim : entry["shape"]) {
    if (!dim.is_number_integer() || dim.get<int64_t>() < 0) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has a bad dimension ", dim.dump()));
    }
    spec.shape.push_back(dim.get<int64_t>());
    spec.count *= spec.shape.back();
    // Bounds the byte arithmetic below against absurd (or hostile) shapes.
    if (spec.count > kMaxValues) {
      return absl::InvalidArgumentError(absl::StrCat(what, " has more than 2^40 values"));
    }
  }
  if (!entry.contains("dtype") || !entry["dtype"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has no dtype"));
  }
  spec.dtype = entry["dtype"].get<std::string>();
  if (spec.dtype != "float32" && spec.dtype != "int32" && spec.dtype != "bool") {
    return absl::UnimplementedError(absl::StrCat(what, " has unsupported dtype '", spec.dtype,
                                                 "' (supported: float32, int32, bool)"));
  }
  if (!entry.contains("quantization")) return spec;

  const json& quant = entry["quantization"];
  if (!quant.is_object() || !quant.contains("dtype") || !quant["dtype"].is_string()) {
    return absl::InvalidArgumentError(absl::StrCat(what, " has a quantization without dtype"));
  }
  spec.quant_dtype = quant["dtype"].get<std::string>();
  if (spec.quant_dtype == "uint8" || spec.quant_dtype == "uint16") {
    if (!quant.contains("scale") || !quant["scale"].is_number() || !quant.contains("min") ||
        !quant["min"].is_number()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " is ", spec.quant_dtype, "-quantized but lacks numeric scale/min"));
    }
    spec.scale = quant["scale"].get<double>();
    spec.min = quant["min"].get<double>();
    if (spec.dtype == "bool") {
      return absl::UnimplementedError(absl::StrCat(what, ": quantized bool weights"));
    }
  } else if (spec.quant_dtype == "float16") {
    if (spec.dtype != "float32") {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": float16 quantization needs dtype float32, not ", spec.dtype));
    }
  } else {
    return absl::UnimplementedError(absl::StrCat(what, " has unknown quantization dtype '",
                                                 spec.quant_dtype,
                                                 "' (supported: uint8, uint16, float16)"));
  }
  return spec;
}

template <typename Q>
torch::Tensor Dequantize(const char* bytes, const WeightSpec& spec) {
  const bool to_int = spec.dtype == "int32";
  torch::Tensor out = torch::empty({spec.count}, to_int ? torch::kInt32 : torch::kFloat32);
  for (int64_t i = 0; i < spec.count; ++i) {
    Q q;
    std::memcpy(&q, bytes + i * static_cast<int64_t>(sizeof(Q)), sizeof(Q));
    // Double precision first, then one rounding: what tfjs-core computes in
    // JavaScript numbers before storing into a Float32Array / Int32Array.
    const double value = static_cast<double>(q) * spec.scale + spec.min;
    if (to_int) {
      out.data_ptr<int32_t>()[i] = static_cast<int32_t>(std::floor(value + 0.5));  // Math.round
    } else {
      out.data_ptr<float>()[i] = static_cast<float>(value);
    }
  }
  return out;
}

torch::Tensor DecodeValues(const char* bytes, const WeightSpec& spec) {
  torch::Tensor out;
  if (spec.quant_dtype == "uint8") {
    out = Dequantize<uint8_t>(bytes, spec);
  } else if (spec.quant_dtype == "uint16") {
    out = Dequantize<uint16_t>(bytes, spec);
  } else if (spec.quant_dtype == "float16") {
    // LibTorch's c10::Half conversion is exact IEEE binary16 -> binary32,
    // subnormals, infinities and NaNs included.
    torch::Tensor half = torch::empty({spec.count}, torch::kFloat16);
    std::memcpy(half.data_ptr(), bytes, static_cast<size_t>(spec.count) * 2);
    out = half.to(torch::kFloat32);
  } else {
    const auto type = spec.dtype == "float32" ? torch::kFloat32
                      : spec.dtype == "int32" ? torch::kInt32
                                              : torch::kBool;
    out = torch::empty({spec.count}, type);
    std::memcpy(out.data_ptr(), bytes, static_cast<size_t>(spec.count * spec.BytesPerValue()));
  }
  return out.reshape(spec.shape).contiguous();
}

absl::Status DecodeGroup(const json& group, size_t index, const std::string& base_dir,
                         const std::string& origin, TensorMap& out) {
  const std::string where = absl::StrCat(origin, ", group ", index);
  if (!group.is_object() || !group.contains("paths") || !group["paths"].is_array() ||
      !group.contains("weights") || !group["weights"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": a weight group needs 'paths' and 'weights' arrays"));
  }
  std::string data;
  for (const json& path : group["paths"]) {
    if (!path.is_string()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": shard path ", path.dump()));
    }
    const std::string file = (std::filesystem::path(base_dir) / path.get<std::string>()).string();
    absl::StatusOr<std::string> shard = ReadFile(file);
    if (!shard.ok()) {
      return absl::Status(shard.status().code(),
                          absl::StrCat(where, ": weight shard '", path.get<std::string>(),
                                       "' missing or unreadable: ", shard.status().message()));
    }
    data += *shard;
  }

  int64_t offset = 0;
  const auto size = static_cast<int64_t>(data.size());
  for (const json& entry : group["weights"]) {
    QF_ASSIGN_OR_RETURN(const WeightSpec spec, ParseSpec(entry, where));
    const int64_t bytes = spec.count * spec.BytesPerValue();
    if (offset + bytes > size) {
      return absl::DataLossError(absl::StrCat(
          where, ": weight '", spec.name, "' ", ShapeString(spec.shape), " needs bytes [", offset,
          ", ", offset + bytes, ") but the shards hold only ", size, " bytes (truncated shard?)"));
    }
    if (out.count(spec.name) != 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(where, ": weight '", spec.name, "' appears twice"));
    }
    out.emplace(spec.name, DecodeValues(data.data() + offset, spec));
    offset += bytes;
  }
  if (offset != size) {
    return absl::DataLossError(absl::StrCat(where, ": the shards hold ", size,
                                            " bytes but the weights use ", offset,
                                            " (wrong shard or manifest?)"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<TensorMap> DecodeTfjsWeights(const nlohmann::json& manifest,
                                            const std::string& base_dir,
                                            const std::string& origin) {
  if (!manifest.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(origin, ": a weights manifest must be an array of groups"));
  }
  TensorMap weights;
  try {
    for (size_t i = 0; i < manifest.size(); ++i) {
      QF_RETURN_IF_ERROR(DecodeGroup(manifest[i], i, base_dir, origin, weights));
    }
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat(origin, ": ", e.what_without_backtrace()));
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat(origin, ": ", e.what()));
  }
  return weights;
}

absl::StatusOr<TensorMap> LoadTfjsWeightsManifest(const std::string& manifest_path) {
  QF_ASSIGN_OR_RETURN(const std::string text, ReadFile(manifest_path));
  const json manifest = json::parse(text, /*cb=*/nullptr, /*allow_exceptions=*/false);
  if (manifest.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(manifest_path, ": not valid JSON"));
  }
  const std::string base_dir = std::filesystem::path(manifest_path).parent_path().string();
  return DecodeTfjsWeights(manifest, base_dir, manifest_path);
}

absl::StatusOr<torch::Tensor> GetTfjsWeight(const TensorMap& weights, const std::string& name,
                                            c10::IntArrayRef shape) {
  const auto it = weights.find(name);
  if (it == weights.end()) {
    return absl::NotFoundError(absl::StrCat("tfjs weight '", name, "' not found"));
  }
  if (it->second.sizes() != shape) {
    return absl::InvalidArgumentError(absl::StrCat("tfjs weight '", name, "' has shape ",
                                                   ShapeString(it->second.sizes()), ", expected ",
                                                   ShapeString(shape)));
  }
  return it->second;
}

torch::Tensor TfjsConvKernelToTorch(const torch::Tensor& kernel) {
  return kernel.permute({3, 2, 0, 1}).contiguous();
}

torch::Tensor TfjsDepthwiseKernelToTorch(const torch::Tensor& kernel) {
  const int64_t kh = kernel.size(0);
  const int64_t kw = kernel.size(1);
  return kernel.permute({2, 3, 0, 1}).reshape({-1, 1, kh, kw}).contiguous();
}

}  // namespace qf::nn
