#include "server/jobs/job_metrics.h"

#include "quantface/v1/quantization.pb.h"

namespace qf::server {
namespace {

const prometheus::Histogram::BucketBoundaries& DurationBuckets() {
  // Jobs take from seconds (tiny test jobs) to hours (paper-sized QAT).
  static const prometheus::Histogram::BucketBoundaries buckets = {
      1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 28800};
  return buckets;
}

std::string StateLabel(int state) {
  std::string name = quantface::v1::Job::State_Name(static_cast<quantface::v1::Job::State>(state));
  if (name.rfind("STATE_", 0) == 0) name = name.substr(6);
  for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return name;
}

}  // namespace

JobMetrics::JobMetrics(prometheus::Registry& registry)
    : jobs_(prometheus::BuildGauge()
                .Name("quantface_jobs")
                .Help("Quantization jobs per state.")
                .Register(registry)),
      submitted_(prometheus::BuildCounter()
                     .Name("quantface_jobs_submitted_total")
                     .Help("Quantization jobs accepted by SubmitJob.")
                     .Register(registry)
                     .Add({})),
      finished_(prometheus::BuildCounter()
                    .Name("quantface_jobs_finished_total")
                    .Help("Quantization jobs that ended, by outcome.")
                    .Register(registry)),
      queue_depth_(prometheus::BuildGauge()
                       .Name("quantface_job_queue_depth")
                       .Help("Jobs waiting for a worker.")
                       .Register(registry)
                       .Add({})),
      duration_(prometheus::BuildHistogram()
                    .Name("quantface_job_duration_seconds")
                    .Help("Run time of a job on its worker, by outcome.")
                    .Register(registry)),
      phase_duration_(prometheus::BuildHistogram()
                          .Name("quantface_job_phase_duration_seconds")
                          .Help("Time a job spent in each phase.")
                          .Register(registry)),
      steps_per_second_(prometheus::BuildGauge()
                            .Name("quantface_job_training_steps_per_second")
                            .Help("Latest training throughput of the job on a device.")
                            .Register(registry)),
      busy_(prometheus::BuildCounter()
                .Name("quantface_device_busy_seconds_total")
                .Help("Seconds a worker spent running jobs on the device; rate() = busy ratio.")
                .Register(registry)),
      registry_models_(prometheus::BuildGauge()
                           .Name("quantface_registry_models")
                           .Help("Models in the registry, built-in ones included.")
                           .Register(registry)
                           .Add({})),
      registry_bytes_(prometheus::BuildGauge()
                          .Name("quantface_registry_bytes")
                          .Help("Bytes of model files in the registry's blob store.")
                          .Register(registry)
                          .Add({})) {
  for (int state = 1; state < quantface::v1::Job::State_ARRAYSIZE; ++state) {
    jobs_.Add({{"state", StateLabel(state)}}).Set(0);
  }
  for (const char* outcome : {"succeeded", "failed", "cancelled"}) {
    finished_.Add({{"outcome", outcome}});
  }
}

void JobMetrics::SetJobsByState(const std::vector<int64_t>& counts) {
  for (size_t state = 1; state < counts.size(); ++state) {
    jobs_.Add({{"state", StateLabel(static_cast<int>(state))}})
        .Set(static_cast<double>(counts[state]));
  }
}

void JobMetrics::Submitted() { submitted_.Increment(); }

void JobMetrics::Finished(const std::string& outcome, double run_seconds) {
  finished_.Add({{"outcome", outcome}}).Increment();
  duration_.Add({{"outcome", outcome}}, DurationBuckets()).Observe(run_seconds);
}

void JobMetrics::SetQueueDepth(int64_t depth) { queue_depth_.Set(static_cast<double>(depth)); }

void JobMetrics::PhaseDone(const std::string& phase, double seconds) {
  phase_duration_.Add({{"phase", phase}}, DurationBuckets()).Observe(seconds);
}

void JobMetrics::SetStepsPerSecond(const std::string& device, double value) {
  steps_per_second_.Add({{"device", device}}).Set(value);
}

void JobMetrics::AddBusy(const std::string& device, double seconds) {
  if (seconds > 0) busy_.Add({{"device", device}}).Increment(seconds);
}

void JobMetrics::SetRegistry(int64_t models, int64_t bytes) {
  registry_models_.Set(static_cast<double>(models));
  registry_bytes_.Set(static_cast<double>(bytes));
}

}  // namespace qf::server
