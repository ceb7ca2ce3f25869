// JobMetrics: Prometheus metrics of the job system and the model registry.
//
// Families (`quantface_` prefix):
//   quantface_jobs{state}                          gauge: jobs per state
//   quantface_jobs_submitted_total                 counter: accepted submissions
//   quantface_jobs_finished_total{outcome}         counter: succeeded|failed|cancelled
//   quantface_job_queue_depth                      gauge: jobs waiting for a worker
//   quantface_job_duration_seconds{outcome}        histogram: start to end of a run
//   quantface_job_phase_duration_seconds{phase}    histogram: per phase of a run
//   quantface_job_training_steps_per_second{device} gauge: latest training throughput
//   quantface_device_busy_seconds_total{device}    counter: time a worker ran a job on
//                                                  the device; its rate() is the busy ratio
//   quantface_registry_models                      gauge: registered models
//   quantface_registry_bytes                       gauge: bytes of stored model files
// Thread-safe (prometheus-cpp metrics are).
#ifndef QUANTFACE_SERVER_JOBS_JOB_METRICS_H_
#define QUANTFACE_SERVER_JOBS_JOB_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <string>
#include <vector>

namespace qf::server {

class JobMetrics {
 public:
  explicit JobMetrics(prometheus::Registry& registry);

  // counts[state] for every v1::Job::State value.
  void SetJobsByState(const std::vector<int64_t>& counts);
  void Submitted();
  void Finished(const std::string& outcome, double run_seconds);
  void SetQueueDepth(int64_t depth);
  void PhaseDone(const std::string& phase, double seconds);
  void SetStepsPerSecond(const std::string& device, double value);
  void AddBusy(const std::string& device, double seconds);
  void SetRegistry(int64_t models, int64_t bytes);

 private:
  prometheus::Family<prometheus::Gauge>& jobs_;
  prometheus::Counter& submitted_;
  prometheus::Family<prometheus::Counter>& finished_;
  prometheus::Gauge& queue_depth_;
  prometheus::Family<prometheus::Histogram>& duration_;
  prometheus::Family<prometheus::Histogram>& phase_duration_;
  prometheus::Family<prometheus::Gauge>& steps_per_second_;
  prometheus::Family<prometheus::Counter>& busy_;
  prometheus::Gauge& registry_models_;
  prometheus::Gauge& registry_bytes_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_JOBS_JOB_METRICS_H_
