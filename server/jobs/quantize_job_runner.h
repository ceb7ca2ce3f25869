// MakeQuantizeJobRunner: the JobRunner that executes a v1::Job with the
// quantization engine (core/quant/quantize_job.h, the same code path as the
// offline `quantface quantize`), on the worker's device, and puts the result
// into the registry.
//
// Contract: the JobConfig is already validated (job_validator.h). Progress is
// reported per step with phase, loss, steps/s and ETA. QAT checkpoints every
// `checkpoint_every` steps to <work_dir>/checkpoint.pt and resumes from it
// when the job is run again after a restart. On success the packed model and
// its report are stored as models/<teacher>-w<W>a<A>-<job id>, with the job as
// source; if that model already exists from an earlier run of this very job
// (a crash after the registry write), it is reused, never duplicated.
#ifndef QUANTFACE_SERVER_JOBS_QUANTIZE_JOB_RUNNER_H_
#define QUANTFACE_SERVER_JOBS_QUANTIZE_JOB_RUNNER_H_

#include <cstdint>
#include <map>
#include <string>

#include "server/jobs/job_scheduler.h"
#include "server/registry/model_registry.h"

namespace qf::server {

struct QuantizeRunnerOptions {
  std::string asset_dir;
  std::string synthetic_cache_dir;               // Generated synthetic sets.
  std::map<std::string, std::string> protocols;  // "lfw", "lfw-all-pairs" -> data directory.
  int all_pairs_max_people = 0;                  // "lfw-all-pairs": the first N people; 0: all.
  int64_t checkpoint_every = 50;
  int cpu_threads = 0;  // Intra-op threads on CPU workers; 0 keeps the default.
};

JobRunner MakeQuantizeJobRunner(QuantizeRunnerOptions options, ModelRegistry& registry);

// Output model id of a job: "<teacher>-w<W>a<A>-<job id>".
std::string OutputModelId(const v1::Job& job);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_JOBS_QUANTIZE_JOB_RUNNER_H_
