// PyTorch state_dict import for the standard architectures users bring
// weights for (MobileFaceNet, iResNet-*): read a `torch.save(model.state_dict(),
// f)` file and copy its tensors into our module by name.
//
// Why a pickle reader of our own: LibTorch 1.13's unpickler (behind
// torch::pickle_load) replaces every collections.OrderedDict with None, since
// it expects OrderedDicts only as tensors' empty backward-hook tables, so the
// OrderedDict that Module.state_dict() returns cannot be read with it. We still
// use LibTorch's zip reader (caffe2::serialize::PyTorchStreamReader) for the
// container and the tensor storages; only the small subset of the pickle
// protocol that torch.save emits for a dict of tensors is interpreted here.
// Nothing in the file is ever executed: unknown Python globals are errors.
#ifndef QUANTFACE_CORE_NN_STATE_DICT_IMPORTER_H_
#define QUANTFACE_CORE_NN_STATE_DICT_IMPORTER_H_

#include <torch/torch.h>

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"

namespace qf::nn {

// Tensors by name, in the file's order. The tensors are CPU tensors of the
// file's dtype and may share storage (as tied weights do in the file).
using StateDict = torch::OrderedDict<std::string, torch::Tensor>;

// Reads a state_dict saved by torch.save in its zip format (PyTorch >= 1.6).
// NOT_FOUND when the file cannot be opened; INVALID_ARGUMENT when it is not a
// torch.save zip (also: legacy pre-1.6 format, TorchScript archive, a pickled
// nn.Module, truncated or corrupt) or does not hold a dict of name -> tensor.
absl::StatusOr<StateDict> ReadStateDict(const std::string& path);

// As ReadStateDict, from the file's bytes.
absl::StatusOr<StateDict> ParseStateDict(std::string_view file_bytes);

// Copies `state_dict` into `module`'s parameters and buffers, matched by
// name (a "module." prefix on every name, as DataParallel/DDP saves have, is
// dropped first). Floating-point tensors convert to the module's dtype.
// All-or-nothing: on any missing, unexpected, mis-shaped or wrongly typed
// tensor it returns INVALID_ARGUMENT naming every one of them and leaves the
// module untouched. BatchNorm's num_batches_tracked may be absent (files from
// PyTorch < 0.4.1 lack it, and inference never reads it).
absl::Status LoadStateDict(const StateDict& state_dict, torch::nn::Module& module);

// A freshly initialized (training mode) network of a known architecture:
// "mobilefacenet", "iresnet18", "iresnet34", "iresnet50", "iresnet100".
// INVALID_ARGUMENT naming the known ones for any other name.
absl::StatusOr<std::shared_ptr<Backbone>> MakeArchitecture(const std::string& name);

// The names MakeArchitecture accepts.
std::vector<std::string> StateDictArchitectures();

// MakeArchitecture(architecture), ReadStateDict(path), LoadStateDict, and
// eval() mode: a ready-to-use backbone. Errors name the file and architecture.
absl::StatusOr<std::shared_ptr<Backbone>> ImportStateDict(const std::string& architecture,
                                                          const std::string& path);

namespace internal {

// Returns the raw bytes (1-D uint8 CPU tensor) of the storage record `key`
// ("data/<key>" in the zip), which the pickle says holds `num_bytes` bytes
// (the caller checks the size again).
using StorageLoader =
    std::function<absl::StatusOr<torch::Tensor>(const std::string& key, int64_t num_bytes)>;

// Interprets the data.pkl pickle of a torch.save file holding a dict of
// tensors. Exposed for tests; never crashes on malformed input.
absl::StatusOr<StateDict> ParseStateDictPickle(std::string_view pickle,
                                               const StorageLoader& load_storage);

}  // namespace internal
}  // namespace qf::nn

#endif  // QUANTFACE_CORE_NN_STATE_DICT_IMPORTER_H_
