// CheckLayerNames: the one check of requested layer names against a model's
// quantized layers, shared by the engine (FakeQuantHooks, which lists the
// layers from the backbone) and the server's job validator (which gets the
// list at start-up and does not link LibTorch). Header-only for that reason.
#ifndef QUANTFACE_CORE_QUANT_LAYER_NAME_CHECK_H_
#define QUANTFACE_CORE_QUANT_LAYER_NAME_CHECK_H_

#include <algorithm>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace qf::quant {

// OK when every entry of `requested` is in `layers` (the conv/linear layer
// names of model `architecture`, in order); else InvalidArgumentError
// "<field>: model '<architecture>' has no conv/linear layer '<name>'; its
// layers are <layers>", naming the first unknown entry.
inline absl::Status CheckLayerNames(const std::string& field, const std::string& architecture,
                                    const std::vector<std::string>& layers,
                                    const std::vector<std::string>& requested) {
  for (const std::string& name : requested) {
    if (std::find(layers.begin(), layers.end(), name) == layers.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat(field, ": model '", architecture, "' has no conv/linear layer '", name,
                       "'; its layers are ", absl::StrJoin(layers, ", ")));
    }
  }
  return absl::OkStatus();
}

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_LAYER_NAME_CHECK_H_
