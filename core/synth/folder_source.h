// A user-supplied folder of synthetic face images (e.g. from SFace,
// DigiFace-1M or the user's own GAN), already aligned as face crops.
//
// Contract: LoadSyntheticFolder() REFUSES (FailedPreconditionError) unless the
// caller declares the folder synthetic: quantization must never see a real
// person, and only the user can vouch for their files. Even when declared, a
// folder that looks like a real evaluation set (a pairs.txt in it or its
// parent, the LFW layout) is refused. Images (*.jpg, *.jpeg, *.png, *.bmp,
// *.webp, found recursively, in sorted path order, at most max_images) are
// decoded, resized to the model's crop size and normalized. An empty folder or
// an undecodable image is an error naming the file.
#ifndef QUANTFACE_CORE_SYNTH_FOLDER_SOURCE_H_
#define QUANTFACE_CORE_SYNTH_FOLDER_SOURCE_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/nn/input_spec.h"

namespace qf::synth {

struct FolderOptions {
  bool declared_synthetic = false;
  int64_t max_images = 2048;
};

absl::StatusOr<torch::Tensor> LoadSyntheticFolder(const std::string& dir,
                                                  const nn::InputSpec& input,
                                                  const FolderOptions& options);

nlohmann::json FolderSpec(const std::string& dir, const nn::InputSpec& input,
                          const FolderOptions& options);

}  // namespace qf::synth

#endif  // QUANTFACE_CORE_SYNTH_FOLDER_SOURCE_H_
