#include "core/quant/packed_model.h"

#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <system_error>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/nn/dlib_resnet.h"
#include "core/nn/faceres.h"
#include "core/quant/bit_packing.h"
#include "core/util/sha256.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

constexpr size_t kMagicBytes = 8;
constexpr size_t kDigestBytes = 64;
constexpr size_t kFixedHeaderBytes = kMagicBytes + 4 + 8;

void AppendInt(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t ReadInt(const std::string& in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) value |= uint64_t{static_cast<uint8_t>(in[at + i])} << (8 * i);
  return value;
}

std::string TensorBytes(const torch::Tensor& t) {
  const torch::Tensor c = t.detach().to(torch::kCPU).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.nbytes());
}

// Appends `bytes` to the payload; returns {offset, size}.
nlohmann::json AddBlob(std::string& payload, const std::string& bytes) {
  nlohmann::json ref = {{"offset", payload.size()}, {"bytes", bytes.size()}};
  payload += bytes;
  return ref;
}

nlohmann::json RangeJson(const ActivationQuantizer& q) {
  nlohmann::json j = {{"bits", q.bits()}};
  if (q.initialized()) {
    j["lo"] = q.lo().item<float>();
    j["hi"] = q.hi().item<float>();
  }
  return j;
}

absl::StatusOr<std::string> Blob(const std::string& payload, const nlohmann::json& ref,
                                 uint64_t expected, const std::string& what) {
  if (!ref.is_object() || !ref.contains("offset") || !ref.contains("bytes")) {
    return absl::DataLossError(absl::StrCat("packed model: ", what, ": no blob reference"));
  }
  const uint64_t offset = ref["offset"].get<uint64_t>();
  const uint64_t bytes = ref["bytes"].get<uint64_t>();
  if (bytes != expected) {
    return absl::DataLossError(absl::StrCat("packed model: ", what, " has ", bytes,
                                            " bytes, the architecture needs ", expected));
  }
  if (offset > payload.size() || bytes > payload.size() - offset) {
    return absl::DataLossError(absl::StrCat("packed model: ", what, " lies outside the payload"));
  }
  return payload.substr(offset, bytes);
}

torch::Tensor FloatTensor(const std::string& bytes, std::vector<int64_t> shape) {
  torch::Tensor t = torch::empty(shape, torch::kFloat);
  std::memcpy(t.data_ptr(), bytes.data(), bytes.size());
  return t;
}

void SetRange(ActivationQuantizer& q, const nlohmann::json& j) {
  if (j.contains("lo") && j.contains("hi")) {
    q.SetRange(torch::tensor(j["lo"].get<float>()), torch::tensor(j["hi"].get<float>()));
  } else {
    q.set_observing(false);
  }
}

}  // namespace

absl::StatusOr<std::shared_ptr<nn::Backbone>> NewQuantizableBackbone(
    const std::string& architecture) {
  if (architecture == nn::DlibResnet::kName) return std::make_shared<nn::DlibResnet>();
  if (architecture == nn::FaceRes::kName) return std::make_shared<nn::FaceRes>();
  return absl::NotFoundError(
      absl::StrCat("no quantizable architecture '", architecture, "' (dlib-resnet, faceres)"));
}

uint64_t Float32Bytes(const nn::Backbone& model) {
  uint64_t bytes = 0;
  for (const auto& p : model.parameters()) bytes += static_cast<uint64_t>(p.numel()) * 4;
  return bytes;
}

absl::Status WritePackedModel(const std::string& path, nn::Backbone& student,
                              const FakeQuantHooks& hooks, const nlohmann::json& metadata) {
  std::string payload;
  nlohmann::json header;
  try {
    torch::NoGradGuard no_grad;
    const auto params = student.named_parameters();
    header["format"] = "quantface-packed";
    header["version"] = kPackedFormatVersion;
    header["architecture"] = student.spec().architecture;
    header["embedding_dim"] = student.spec().embedding_dim;
    header["input_size"] = student.spec().input.size;
    header["bits"] = QuantBitsName(hooks.options().bits);
    header["keep_first_last_8bit"] = hooks.options().keep_first_last_8bit;
    header["keep_depthwise_8bit"] = hooks.options().keep_depthwise_8bit;
    header["keep_8bit_layers"] = hooks.options().keep_8bit_layers;
    header["keep_add_operands_8bit"] = hooks.options().keep_add_operands_8bit;
    header["keep_residual_operands_8bit"] = hooks.options().keep_residual_operands_8bit;
    header["weight_scheme"] = WeightSchemeName(hooks.options().weight_scheme);
    header["weight_ranges"] = RangeEstimatorName(hooks.options().weight_ranges);
    header["metadata"] = metadata;
    nlohmann::json layers = nlohmann::json::array();
    for (const FakeQuantHooks::Layer* layer : hooks.layers()) {
      const torch::Tensor* weight = params.find(layer->name + ".weight");
      if (weight == nullptr)
        return absl::InternalError(absl::StrCat("no weight for ", layer->name));
      const AffineParams p = hooks.WeightParams(*layer, *weight);
      // The codes are read back from the fake quantizer's own output, so the
      // file holds exactly the weights the student ran with: it rounds
      // w * float(1 / scale), and round(w / scale) differs from that for
      // weights within an ulp of a rounding boundary (about 4 in 10^7).
      const int64_t qmax = WeightCodeMax(layer->weight_bits, layer->weight_scheme);
      const torch::Tensor scale = p.scale.to(torch::kCPU).to(torch::kFloat);
      const torch::Tensor fake_quantized = torch::fake_quantize_per_channel_affine(
          weight->detach().to(torch::kCPU).to(torch::kFloat), scale,
          p.zero_point.to(torch::kCPU).to(torch::kInt), /*axis=*/0, 0, qmax);
      // fake_quantized / scale is (code - zero_point) to within an ulp.
      const torch::Tensor codes =
          torch::clamp(torch::round(fake_quantized.flatten(1) / scale.view({-1, 1})) +
                           p.zero_point.to(torch::kCPU).to(torch::kFloat).view({-1, 1}),
                       0, qmax)
              .to(torch::kUInt8)
              .contiguous();
      const std::vector<uint8_t> values(codes.data_ptr<uint8_t>(),
                                        codes.data_ptr<uint8_t>() + codes.numel());
      QF_ASSIGN_OR_RETURN(const std::string packed, PackBits(values, layer->weight_bits));
      nlohmann::json entry = {
          {"name", layer->name},
          {"shape", weight->sizes().vec()},
          {"weight_bits", layer->weight_bits},
          {"codes", AddBlob(payload, packed)},
          {"scale", AddBlob(payload, TensorBytes(p.scale.to(torch::kFloat)))},
          {"zero_point", AddBlob(payload, TensorBytes(p.zero_point.to(torch::kUInt8)))},
          {"input", RangeJson(*layer->input)}};
      if (const torch::Tensor* bias = params.find(layer->name + ".bias")) {
        entry["bias"] = AddBlob(payload, TensorBytes(bias->to(torch::kFloat)));
      }
      layers.push_back(std::move(entry));
    }
    header["layers"] = std::move(layers);
    nlohmann::json adds = nlohmann::json::object();
    for (const auto& [site, q] : hooks.add_operands()) adds[site] = RangeJson(*q);
    header["add_operands"] = std::move(adds);
  } catch (const c10::Error& e) {
    return absl::InternalError(absl::StrCat("packing model: ", e.what_without_backtrace()));
  }
  const std::string header_text = header.dump();
  std::string file(kPackedMagic, kMagicBytes);
  AppendInt(file, kPackedFormatVersion, 4);
  AppendInt(file, header_text.size(), 8);
  file += header_text;
  file += payload;
  file += Sha256Hex(file);

  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out.write(file.data(), static_cast<std::streamsize>(file.size()));
    if (!out) return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot rename ", tmp, ": ", ec.message()));
  return absl::OkStatus();
}

absl::StatusOr<PackedModel> LoadPackedModel(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("cannot open packed model ", path));
  std::stringstream buffer;
  buffer << in.rdbuf();
  const std::string file = buffer.str();
  const auto corrupt = [&](const std::string& why) {
    return absl::DataLossError(absl::StrCat(path, ": ", why));
  };
  if (file.size() < kFixedHeaderBytes + kDigestBytes)
    return corrupt("too short for a packed model");
  if (file.compare(0, kMagicBytes, kPackedMagic, kMagicBytes) != 0) {
    return corrupt("not a QuantFace packed model (bad magic)");
  }
  const std::string body = file.substr(0, file.size() - kDigestBytes);
  if (Sha256Hex(body) != file.substr(file.size() - kDigestBytes)) {
    return corrupt("checksum mismatch: the file is corrupt or truncated");
  }
  const uint32_t version = static_cast<uint32_t>(ReadInt(file, kMagicBytes, 4));
  if (version != kPackedFormatVersion) {
    return absl::FailedPreconditionError(absl::StrCat(path, ": packed format version ", version,
                                                      ", this build reads ", kPackedFormatVersion));
  }
  const uint64_t header_size = ReadInt(file, kMagicBytes + 4, 8);
  if (header_size > body.size() - kFixedHeaderBytes) return corrupt("header size out of range");
  const nlohmann::json header =
      nlohmann::json::parse(body.substr(kFixedHeaderBytes, header_size), nullptr, false);
  if (header.is_discarded() || !header.is_object()) return corrupt("header is not JSON");
  const std::string payload = body.substr(kFixedHeaderBytes + header_size);

  PackedModel result;
  result.file_bytes = file.size();
  result.header = header;
  try {
    const std::string architecture = header.value("architecture", "");
    absl::StatusOr<std::shared_ptr<nn::Backbone>> model = NewQuantizableBackbone(architecture);
    if (!model.ok()) {
      return absl::FailedPreconditionError(absl::StrCat(path, ": ", model.status().message()));
    }
    result.model = *model;
    QF_ASSIGN_OR_RETURN(const QuantBits bits, ParseQuantBits(header.value("bits", "")));
    FakeQuantOptions options;
    options.bits = bits;
    options.keep_first_last_8bit = header.value("keep_first_last_8bit", false);
    options.keep_depthwise_8bit = header.value("keep_depthwise_8bit", false);
    options.keep_8bit_layers =
        header.value("keep_8bit_layers", std::vector<std::string>{});  // Absent before session 12.
    options.keep_add_operands_8bit = header.value("keep_add_operands_8bit", false);  // Session 13.
    options.keep_residual_operands_8bit =
        header.value("keep_residual_operands_8bit", false);  // Session 18.
    // Files written before the option existed are asymmetric.
    QF_ASSIGN_OR_RETURN(options.weight_scheme,
                        ParseWeightScheme(header.value("weight_scheme", "asymmetric")));
    QF_ASSIGN_OR_RETURN(options.weight_ranges,
                        ParseRangeEstimator(header.value("weight_ranges", "minmax")));
    QF_ASSIGN_OR_RETURN(result.hooks, FakeQuantHooks::Attach(*result.model, options));
    auto params = result.model->named_parameters();
    const nlohmann::json& layers = header.at("layers");
    if (layers.size() != result.hooks->layers().size()) {
      return corrupt(absl::StrCat(layers.size(), " layers, ", architecture, " has ",
                                  result.hooks->layers().size()));
    }
    torch::NoGradGuard no_grad;
    for (const nlohmann::json& entry : layers) {
      const std::string name = entry.at("name").get<std::string>();
      FakeQuantHooks::Layer* layer = result.hooks->mutable_layer(name);
      torch::Tensor* weight = params.find(name + ".weight");
      if (layer == nullptr || weight == nullptr)
        return corrupt(absl::StrCat("unknown layer ", name));
      if (entry.at("shape").get<std::vector<int64_t>>() != weight->sizes().vec()) {
        return corrupt(absl::StrCat(name, ": weight shape differs from the architecture"));
      }
      const int weight_bits = entry.at("weight_bits").get<int>();
      if (weight_bits < kMinBits || weight_bits > kMaxBits)
        return corrupt(absl::StrCat(name, ": bad bits"));
      layer->weight_bits = weight_bits;
      const int64_t channels = weight->size(0);
      const uint64_t count = static_cast<uint64_t>(weight->numel());
      QF_ASSIGN_OR_RETURN(
          const std::string packed,
          Blob(payload, entry.at("codes"), PackedBytes(count, weight_bits), name + " codes"));
      QF_ASSIGN_OR_RETURN(const std::string scale_bytes,
                          Blob(payload, entry.at("scale"), channels * 4, name + " scales"));
      QF_ASSIGN_OR_RETURN(const std::string zp_bytes,
                          Blob(payload, entry.at("zero_point"), channels, name + " zero points"));
      QF_ASSIGN_OR_RETURN(const std::vector<uint8_t> codes, UnpackBits(packed, count, weight_bits));
      AffineParams p;
      p.scale = FloatTensor(scale_bytes, {channels});
      torch::Tensor zp = torch::empty({channels}, torch::kUInt8);
      std::memcpy(zp.data_ptr(), zp_bytes.data(), zp_bytes.size());
      p.zero_point = zp.to(torch::kInt);
      torch::Tensor q = torch::empty({static_cast<int64_t>(count)}, torch::kUInt8);
      std::memcpy(q.data_ptr(), codes.data(), codes.size());
      const torch::Tensor w = (q.to(torch::kFloat).view({channels, -1}) -
                               p.zero_point.to(torch::kFloat).view({-1, 1})) *
                              p.scale.view({-1, 1});
      weight->copy_(w.view(weight->sizes()));
      layer->frozen_weight_params = p;
      if (torch::Tensor* bias = params.find(name + ".bias")) {
        if (!entry.contains("bias")) return corrupt(absl::StrCat(name, ": bias missing"));
        QF_ASSIGN_OR_RETURN(const std::string bias_bytes,
                            Blob(payload, entry.at("bias"), channels * 4, name + " bias"));
        bias->copy_(FloatTensor(bias_bytes, {channels}));
      }
      const nlohmann::json& input = entry.at("input");
      if (input.at("bits").get<int>() != layer->input->bits()) {
        layer->input = std::make_unique<ActivationQuantizer>(input.at("bits").get<int>());
      }
      SetRange(*layer->input, input);
    }
    for (const auto& [site, range] : header.at("add_operands").items()) {
      ActivationQuantizer& quantizer = result.hooks->add_operand(site);
      if (range.at("bits").get<int>() != quantizer.bits()) {
        return corrupt(absl::StrCat("add operand '", site, "' stored at ",
                                    range.at("bits").get<int>(), " bits, its options say ",
                                    quantizer.bits()));
      }
      SetRange(quantizer, range);
    }
    result.hooks->set_observing(false);
  } catch (const nlohmann::json::exception& e) {
    return corrupt(absl::StrCat("malformed header: ", e.what()));
  } catch (const c10::Error& e) {
    return corrupt(absl::StrCat("loading tensors: ", e.what_without_backtrace()));
  }
  result.model->eval();
  return result;
}

}  // namespace qf::quant
