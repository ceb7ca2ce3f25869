// Human-readable job progress and result, for `quantface job submit --watch`
// and `quantface job watch`: a one-line progress bar (state, phase, step,
// loss, throughput, ETA) and the model's report table at the end.
#ifndef QUANTFACE_CLIENT_COMMANDS_JOB_PROGRESS_H_
#define QUANTFACE_CLIENT_COMMANDS_JOB_PROGRESS_H_

#include <string>

#include "quantface/v1/quantization.pb.h"
#include "quantface/v1/registry.pb.h"

namespace qf::cli {

// e.g. "RUNNING training [#######.....] 120/300 loss 0.01234 4.1 steps/s ETA 44s cpu"
std::string ProgressLine(const quantface::v1::Job& job);

// The output model's size, bits and evaluation (accuracy, drop vs teacher,
// cross-model accuracy, thresholds and TAR per FAR), several lines.
std::string ReportTable(const quantface::v1::Model& model);

}  // namespace qf::cli

#endif  // QUANTFACE_CLIENT_COMMANDS_JOB_PROGRESS_H_
