// The smallest quantization job the integration tests submit: dlib-resnet
// w8a8 QAT on Gaussian noise, batch 2, one warm-up step, on the CPU. Noise
// needs no generation, so a job of a few steps finishes in seconds and the
// tests exercise the job system, not the method.
#ifndef QUANTFACE_TESTS_INTEGRATION_TINY_JOB_CONFIG_H_
#define QUANTFACE_TESTS_INTEGRATION_TINY_JOB_CONFIG_H_

#include "quantface/v1/quantization.pb.h"

namespace qf::testing {

inline ::quantface::v1::JobConfig TinyJobConfig(int steps) {
  namespace v1 = ::quantface::v1;
  v1::JobConfig config;
  config.set_teacher_model("models/dlib-resnet");
  config.set_weight_bits(8);
  config.set_activation_bits(8);
  config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
  config.mutable_synthetic_data()->set_seed(7);
  config.set_steps(steps);
  config.set_batch_size(2);
  config.set_activation_warmup_steps(1);
  config.set_device(v1::DEVICE_PREFERENCE_CPU);
  return config;
}

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_INTEGRATION_TINY_JOB_CONFIG_H_
