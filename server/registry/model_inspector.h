// InspectModelFile: the registry's ModelInspector for this server: loads an
// uploaded or job-produced file with the same code that will serve it, so a
// file the registry accepts is a file the server can embed with.
//
//   MODEL_FORMAT_PACKED_QUANTIZED  core/quant/packed_model.h: checksum,
//       header, every blob; describes architecture, bits, teacher,
//       synthetic data (the job's config when the file carries it) and the
//       LFW evaluation (student, teacher, cross) stored in the file.
//   MODEL_FORMAT_TORCH_STATE_DICT  core/nn/state_dict_importer.h for the
//       given architecture: every tensor present, named and shaped right.
//   MODEL_FORMAT_TORCHSCRIPT_GENERATOR  core/synth/torchscript_generator.h:
//       loads with torch::jit::load and maps a probe latent batch to finite
//       images [N, 3, H, W]; describes latent_dim and the image size.
// A file that does not load is INVALID_ARGUMENT with the loader's reason.
#ifndef QUANTFACE_SERVER_REGISTRY_MODEL_INSPECTOR_H_
#define QUANTFACE_SERVER_REGISTRY_MODEL_INSPECTOR_H_

#include <string>

#include "absl/status/status.h"
#include "quantface/v1/registry.pb.h"

namespace qf::server {

absl::Status InspectModelFile(quantface::v1::ModelFormat format, const std::string& architecture,
                              const std::string& path, quantface::v1::Model* model);

// Metadata key under which the job runner stores the job's
// SyntheticDataConfig (as proto JSON) in packed files.
inline constexpr char kSyntheticConfigKey[] = "synthetic_data_config";

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_REGISTRY_MODEL_INSPECTOR_H_
