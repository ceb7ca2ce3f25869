// JobScheduler: runs accepted quantization jobs on worker threads, one per
// CUDA device and `cpu_workers` for the CPU, never on gRPC threads.
//
// Contract:
//  - Submit() persists the job as QUEUED (JobStore) before returning it; a
//    repeated request_id returns the first job. Beyond max_queued waiting
//    jobs it is RESOURCE_EXHAUSTED.
//  - Workers take the waiting job with the highest priority, oldest first,
//    that their device may run (GPU workers: GPU or ANY; CPU workers: CPU or
//    ANY). States go QUEUED -> RUNNING -> SUCCEEDED | FAILED | CANCELLED, each
//    change persisted with its timestamp. Progress (phase, step, loss,
//    throughput, ETA) lives in memory and is persisted on phase changes; the
//    training state itself is checkpointed by the runner under the job's
//    work directory.
//  - Cancel() of a queued job ends it at once; of a running job it sets the
//    flag the runner polls between steps and waits (up to `wait`) for the
//    job to end. Cancelling a finished job is FAILED_PRECONDITION.
//  - WaitForChange() gives watchers the job's current state first and then
//    each change in order (the last kHistory changes of a job are kept, also
//    for a while after it ended, so a slow watcher misses none unless it
//    falls that far behind); any number of watchers may wait on one job.
//  - Restart safety: Create() re-queues every job the store has as QUEUED or
//    RUNNING (running ones resume from their checkpoint, see the runner).
//    Shutdown() stops the workers, interrupting running jobs without
//    changing their stored state, so the next start resumes them. The data
//    directory's lock (held by the server) keeps two processes from running
//    the same job at once.
#ifndef QUANTFACE_SERVER_JOBS_JOB_SCHEDULER_H_
#define QUANTFACE_SERVER_JOBS_JOB_SCHEDULER_H_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"
#include "quantface/v1/quantization.pb.h"
#include "server/jobs/job_metrics.h"
#include "server/jobs/job_store.h"

namespace qf::server {

struct JobRunContext {
  std::string device;    // "cpu" or "cuda:<index>".
  int cuda_index = -1;   // -1 on the CPU.
  std::string work_dir;  // Per job; survives restarts (checkpoints live here).
  std::function<bool()> should_stop;
  std::function<void(const v1::JobProgress&)> report_progress;
};

// Runs one job to the end; returns the output model's resource name. A
// CANCELLED status means it stopped because should_stop() said so.
using JobRunner =
    std::function<absl::StatusOr<std::string>(const v1::Job& job, const JobRunContext& context)>;

struct SchedulerOptions {
  int cpu_workers = 1;
  int cuda_devices = 0;
  int max_queued = 100;
  std::string work_root;  // <data_dir>/jobs/work
};

class JobScheduler {
 public:
  // Re-queues unfinished jobs from `store`; workers start with Start().
  static absl::StatusOr<std::unique_ptr<JobScheduler>> Create(SchedulerOptions options,
                                                              JobStore& store, JobRunner runner,
                                                              JobMetrics* metrics);
  ~JobScheduler();

  void Start();
  void Shutdown();

  absl::StatusOr<v1::Job> Submit(const v1::JobConfig& config, const std::string& request_id);
  absl::StatusOr<v1::Job> Get(const std::string& name) const;
  absl::StatusOr<JobPage> List(v1::Job::State state, int page_size,
                               const std::string& page_token) const;
  absl::StatusOr<v1::Job> Cancel(const std::string& name, std::chrono::milliseconds wait);

  // The job once its version differs from `*version` (0 = never seen: the
  // current state comes back at once), with the change's note in `message`;
  // DEADLINE_EXCEEDED when nothing changed before `deadline`. A job no
  // longer active comes back from the store with *version = kFinalVersion.
  static constexpr uint64_t kFinalVersion = ~uint64_t{0};
  absl::StatusOr<v1::Job> WaitForChange(const std::string& name, uint64_t* version,
                                        std::string* message,
                                        std::chrono::system_clock::time_point deadline) const;

  // Names of queued or running jobs that use model `model_name`.
  std::vector<std::string> JobsUsingModel(const std::string& model_name) const;

 private:
  static constexpr size_t kHistory = 256;     // Changes kept per job.
  static constexpr size_t kRecentEnded = 64;  // Ended jobs kept for watchers.
  struct Change {
    uint64_t version = 0;
    v1::Job job;
    std::string message;
  };
  struct Active {
    v1::Job job;
    std::deque<Change> history;
    uint64_t seq = 0;
    uint64_t version = 1;
    std::string message;
    bool running = false;
    std::atomic<bool> cancel{false};
    std::chrono::steady_clock::time_point phase_start;
  };
  struct Worker {
    std::string device;
    int cuda_index = -1;
  };

  JobScheduler(SchedulerOptions options, JobStore& store, JobRunner runner, JobMetrics* metrics)
      : options_(std::move(options)),
        store_(store),
        runner_(std::move(runner)),
        metrics_(metrics) {}

  void WorkerLoop(const Worker& worker);
  std::shared_ptr<Active> PickLocked(const Worker& worker);
  void RunJob(const Worker& worker, const std::shared_ptr<Active>& active);
  void OnProgress(const Worker& worker, Active& active, const v1::JobProgress& progress,
                  std::chrono::steady_clock::time_point* last_busy);
  // Persists and publishes a change of `active` (mutex_ held).
  void ChangedLocked(Active& active, const std::string& message, bool persist);
  void UpdateGaugesLocked();
  // Moves an ended job from active_ to recent_ (its history stays readable).
  void RetireLocked(const std::string& id);

  const SchedulerOptions options_;
  JobStore& store_;
  const JobRunner runner_;
  JobMetrics* const metrics_;

  mutable std::mutex mutex_;
  mutable std::condition_variable work_cv_;
  mutable std::condition_variable change_cv_;
  std::map<std::string, std::shared_ptr<Active>> active_;  // By id: queued + running.
  std::map<std::string, std::shared_ptr<Active>> recent_;  // By id: recently ended.
  std::deque<std::string> recent_order_;
  uint64_t next_seq_ = 1;
  bool stopping_ = false;
  std::atomic<bool> stop_flag_{false};
  std::vector<std::thread> threads_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_JOBS_JOB_SCHEDULER_H_
