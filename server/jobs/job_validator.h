// ValidateJobConfig: checks a submitted JobConfig completely before anything
// is queued, and returns it with every default filled in (the config the job
// record keeps, so a job can be reproduced from it).
//
// Errors name the offending field ("config.weight_bits ..."):
//   INVALID_ARGUMENT    malformed values: bits outside 2..8, steps / batch /
//                       images outside their limits, no synthetic source, an
//                       image folder not declared synthetic, a layer name
//                       in keep_8bit_layers the teacher lacks, an unknown
//                       evaluation protocol, negative optimizer settings;
//   NOT_FOUND           the teacher (or generator) model or the image folder
//                       does not exist;
//   FAILED_PRECONDITION the request is well-formed but this server cannot run
//                       it: the teacher is not a quantizable built-in model,
//                       the generator model is not a (declared synthetic)
//                       generator, a GPU is asked for and there is none (or
//                       CPU and no CPU worker), or the evaluation data is
//                       missing.
#ifndef QUANTFACE_SERVER_JOBS_JOB_VALIDATOR_H_
#define QUANTFACE_SERVER_JOBS_JOB_VALIDATOR_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantface/v1/quantization.pb.h"
#include "server/registry/model_registry.h"

namespace qf::server {

struct JobLimits {
  int max_steps = 100000;
  int max_batch_size = 512;
  int max_num_images = 100000;
  int cuda_devices = 0;
  int cpu_workers = 1;
  // Evaluation protocol name -> data directory, e.g. "lfw" -> path.
  std::map<std::string, std::string> protocols;
  // Built-in models the quantization engine can fake-quantize.
  std::vector<std::string> quantizable_teachers = {"dlib-resnet", "faceres"};
  // Teacher id -> its conv/linear layer names, for checking
  // keep_8bit_layers at submission (the server fills it from core/quant,
  // which this library does not link). A teacher missing here is checked
  // by the job itself, before it generates data.
  std::map<std::string, std::vector<std::string>> quantizable_layers;
};

absl::StatusOr<v1::JobConfig> ValidateJobConfig(const v1::JobConfig& config,
                                                const ModelRegistry& registry,
                                                const JobLimits& limits);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_JOBS_JOB_VALIDATOR_H_
