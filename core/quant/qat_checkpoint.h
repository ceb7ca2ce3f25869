// QAT checkpoints: everything a distillation run needs to continue after the
// process died: the student's parameters and buffers, the activation ranges
// and weight clip factors (or learned weight scales) of its fake-quant hooks,
// the optimizer's momentum buffers and the number of steps done.
//
// Contract: SaveQatCheckpoint() writes a torch::serialize archive to a
// temporary file next to `path`, fsyncs it, renames it over `path` and fsyncs
// the directory, so `path` always holds either the previous checkpoint or the
// new one, never a torn file. LoadQatCheckpoint() restores that state into a
// student built the same way (same architecture, hooks attached with the same
// bits) and returns the steps done; NOT_FOUND when there is no file,
// DATA_LOSS when it cannot be read or does not fit the student (the student
// may then be partly overwritten: callers start over from a fresh one).
// The synthetic batch order is not restored: a resumed run sees different
// batches from the same source than an uninterrupted one would.
#ifndef QUANTFACE_CORE_QUANT_QAT_CHECKPOINT_H_
#define QUANTFACE_CORE_QUANT_QAT_CHECKPOINT_H_

#include <torch/torch.h>

#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/nn/backbone.h"
#include "core/quant/fake_quant_hooks.h"

namespace qf::quant {

absl::Status SaveQatCheckpoint(const std::string& path, int64_t steps_done,
                               const nn::Backbone& student, const FakeQuantHooks& hooks,
                               const torch::optim::Optimizer& optimizer);

absl::StatusOr<int64_t> LoadQatCheckpoint(const std::string& path, nn::Backbone& student,
                                          FakeQuantHooks& hooks, torch::optim::Optimizer& optimizer,
                                          torch::Device device);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QAT_CHECKPOINT_H_
