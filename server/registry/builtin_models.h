// RegisterBuiltinModels: puts the built-in models (core/nn/model_zoo.h) into
// the registry at start-up, from the asset cache that scripts/fetch_assets.sh
// fills: architecture, embedding size, input size, total size of the asset
// files, and the LFW evaluation when "<evaluations_dir>/<id>.json" exists
// (as `quantface bench lfw --report` writes it). A built-in whose assets are
// missing is still registered (using it fails with the fetch hint).
#ifndef QUANTFACE_SERVER_REGISTRY_BUILTIN_MODELS_H_
#define QUANTFACE_SERVER_REGISTRY_BUILTIN_MODELS_H_

#include <string>

#include "absl/status/status.h"
#include "server/registry/model_registry.h"

namespace qf::server {

absl::Status RegisterBuiltinModels(ModelRegistry& registry, const std::string& asset_dir,
                                   const std::string& evaluations_dir);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_REGISTRY_BUILTIN_MODELS_H_
