// The packed low-bit model file: one file holding a quantized student and
// everything needed to trust and reproduce it.
//
// Layout (all integers little-endian):
//   8 bytes   magic "QFPACKED"
//   u32       format version (kPackedFormatVersion)
//   u64       header size H
//   H bytes   header, JSON: architecture and model spec, bit widths, per layer
//             {name, weight shape, weight bits, blob offsets of the packed
//             weight codes, float32 per-channel scales, uint8 zero points,
//             float32 bias, the input activation's bits and range}, the
//             add-operand ranges, and the caller's metadata (teacher
//             reference, synthetic-data spec, training config, eval report)
//   payload   the blobs the header points into (offsets from payload start)
//   64 bytes  lowercase hex SHA-256 of everything above
// Weight codes q in [0, 2^bits) are bit-packed at the layer's width
// (bit_packing.h); w = (q - zero_point[c]) * scale[c].
//
// Contract: LoadPackedModel() verifies the checksum before parsing anything,
// then the magic, version, architecture and every blob's bounds and size
// against the architecture's layers; each failure is a distinct, named error
// (DataLoss for corrupt/truncated files, FailedPrecondition for a newer
// version or an unknown architecture). The loaded model reproduces the saved
// fake-quant student exactly: dequantized weights with their stored
// per-channel params and frozen activation ranges.
#ifndef QUANTFACE_CORE_QUANT_PACKED_MODEL_H_
#define QUANTFACE_CORE_QUANT_PACKED_MODEL_H_

#include <cstdint>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"

namespace qf::quant {

inline constexpr char kPackedMagic[] = "QFPACKED";  // 8 bytes, no terminator in the file.
inline constexpr uint32_t kPackedFormatVersion = 1;

// Writes `student` (with its attached, frozen `hooks`) to `path` via a
// temporary file and rename. `metadata` is stored under header["metadata"].
absl::Status WritePackedModel(const std::string& path, nn::Backbone& student,
                              const FakeQuantHooks& hooks, const nlohmann::json& metadata);

struct PackedModel {
  std::shared_ptr<nn::Backbone> model;  // Eval mode, CPU, hooks attached.
  std::shared_ptr<FakeQuantHooks> hooks;
  nlohmann::json header;
  uint64_t file_bytes = 0;
};

absl::StatusOr<PackedModel> LoadPackedModel(const std::string& path);

// A freshly constructed (randomly initialized) hookable backbone by
// architecture name: "dlib-resnet" or "faceres"; NotFound otherwise.
absl::StatusOr<std::shared_ptr<nn::Backbone>> NewQuantizableBackbone(
    const std::string& architecture);

// Bytes of the model's parameters as float32.
uint64_t Float32Bytes(const nn::Backbone& model);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_PACKED_MODEL_H_
