#include "server/jobs/job_scheduler.h"

#include <google/protobuf/util/time_util.h>
#include <spdlog/spdlog.h>

#include <filesystem>

#include "absl/strings/str_cat.h"

namespace qf::server {
namespace {

using google::protobuf::util::TimeUtil;

std::string PhaseLabel(v1::JobProgress::Phase phase) {
  switch (phase) {
    case v1::JobProgress::PHASE_GENERATING_DATA:
      return "generating_data";
    case v1::JobProgress::PHASE_TRAINING:
      return "training";
    case v1::JobProgress::PHASE_EVALUATING:
      return "evaluating";
    case v1::JobProgress::PHASE_EXPORTING:
      return "exporting";
    default:
      return "starting";
  }
}

// The note of a job's last change, as the worker wrote it when it ended.
std::string EndMessage(const v1::Job& job) {
  switch (job.state()) {
    case v1::Job::STATE_SUCCEEDED:
      return absl::StrCat("succeeded: ", job.output_model());
    case v1::Job::STATE_FAILED:
      return absl::StrCat("failed: ", job.error_message());
    case v1::Job::STATE_CANCELLED:
      return "cancelled";
    default:
      return "";
  }
}

bool Eligible(v1::DevicePreference preference, bool gpu_worker) {
  switch (preference) {
    case v1::DEVICE_PREFERENCE_GPU:
      return gpu_worker;
    case v1::DEVICE_PREFERENCE_CPU:
      return !gpu_worker;
    default:
      return true;
  }
}

}  // namespace

absl::StatusOr<std::unique_ptr<JobScheduler>> JobScheduler::Create(SchedulerOptions options,
                                                                   JobStore& store,
                                                                   JobRunner runner,
                                                                   JobMetrics* metrics) {
  std::unique_ptr<JobScheduler> scheduler(  // Private constructor.
      new JobScheduler(std::move(options), store, std::move(runner), metrics));
  auto unfinished = store.InStates({v1::Job::STATE_QUEUED, v1::Job::STATE_RUNNING});
  if (!unfinished.ok()) return unfinished.status();
  std::lock_guard<std::mutex> lock(scheduler->mutex_);
  for (v1::Job& job : *unfinished) {
    auto active = std::make_shared<Active>();
    const bool was_running = job.state() == v1::Job::STATE_RUNNING;
    job.set_state(v1::Job::STATE_QUEUED);
    job.clear_start_time();
    job.mutable_progress()->Clear();
    active->job = std::move(job);
    active->seq = scheduler->next_seq_++;
    const std::string id = active->job.name().substr(5);
    scheduler->active_[id] = active;
    if (was_running) {
      spdlog::info("job {} was running when the server stopped; re-queued to resume",
                   active->job.name());
      scheduler->ChangedLocked(*active, "re-queued after a server restart", true);
    }
  }
  scheduler->UpdateGaugesLocked();
  return scheduler;
}

JobScheduler::~JobScheduler() { Shutdown(); }

void JobScheduler::Start() {
  std::vector<Worker> workers;
  for (int i = 0; i < options_.cuda_devices; ++i) workers.push_back({absl::StrCat("cuda:", i), i});
  for (int i = 0; i < options_.cpu_workers; ++i) workers.push_back({"cpu", -1});
  for (const Worker& worker : workers) {
    threads_.emplace_back([this, worker] { WorkerLoop(worker); });
  }
}

void JobScheduler::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (stopping_) return;
    stopping_ = true;
    stop_flag_ = true;
  }
  work_cv_.notify_all();
  change_cv_.notify_all();
  for (std::thread& thread : threads_) thread.join();
  threads_.clear();
}

absl::StatusOr<v1::Job> JobScheduler::Submit(const v1::JobConfig& config,
                                             const std::string& request_id) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  v1::Job job;
  const std::string id = JobStore::NewId();
  job.set_name(absl::StrCat("jobs/", id));
  *job.mutable_config() = config;
  job.set_state(v1::Job::STATE_QUEUED);
  *job.mutable_create_time() = TimeUtil::GetCurrentTime();
  job.set_request_id(request_id);

  int64_t queued = 0;
  for (const auto& [key, active] : active_) queued += active->running ? 0 : 1;
  if (queued >= options_.max_queued) {
    // A retry of an accepted submission still gets its job back.
    if (!request_id.empty()) {
      auto page =
          store_.InStates({v1::Job::STATE_QUEUED, v1::Job::STATE_RUNNING, v1::Job::STATE_SUCCEEDED,
                           v1::Job::STATE_FAILED, v1::Job::STATE_CANCELLED});
      if (page.ok()) {
        for (const v1::Job& existing : *page) {
          if (existing.request_id() == request_id) return existing;
        }
      }
    }
    return absl::ResourceExhaustedError(absl::StrCat("the job queue is full (", queued,
                                                     " jobs waiting, max_queued_jobs ",
                                                     options_.max_queued, "); retry later"));
  }
  bool created = false;
  auto stored = store_.Create(job, &created);
  if (!stored.ok()) return stored.status();
  if (!created) {
    const std::string existing_id = stored->name().substr(5);
    if (auto it = active_.find(existing_id); it != active_.end()) return it->second->job;
    return stored;
  }
  auto active = std::make_shared<Active>();
  active->job = *stored;
  active->seq = next_seq_++;
  active->message = "queued";
  active_[id] = active;
  if (metrics_ != nullptr) metrics_->Submitted();
  UpdateGaugesLocked();
  work_cv_.notify_all();
  change_cv_.notify_all();
  return active->job;
}

absl::StatusOr<v1::Job> JobScheduler::Get(const std::string& name) const {
  auto id = JobStore::IdOf(name, "name");
  if (!id.ok()) return id.status();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (auto it = active_.find(*id); it != active_.end()) return it->second->job;
  }
  return store_.Get(*id);
}

absl::StatusOr<JobPage> JobScheduler::List(v1::Job::State state, int page_size,
                                           const std::string& page_token) const {
  auto page = store_.List(state, page_size, page_token);
  if (!page.ok()) return page;
  // Live progress of running jobs is newer than their stored rows.
  std::lock_guard<std::mutex> lock(mutex_);
  for (v1::Job& job : page->jobs) {
    if (auto it = active_.find(job.name().substr(5)); it != active_.end()) job = it->second->job;
  }
  return page;
}

absl::StatusOr<v1::Job> JobScheduler::Cancel(const std::string& name,
                                             std::chrono::milliseconds wait) {
  auto id = JobStore::IdOf(name, "name");
  if (!id.ok()) return id.status();
  std::unique_lock<std::mutex> lock(mutex_);
  auto it = active_.find(*id);
  if (it == active_.end()) {
    lock.unlock();
    auto job = store_.Get(*id);
    if (!job.ok()) return job.status();
    return absl::FailedPreconditionError(
        absl::StrCat("job ", name, " already ended as ", v1::Job::State_Name(job->state())));
  }
  std::shared_ptr<Active> active = it->second;
  if (!active->running) {
    active->job.set_state(v1::Job::STATE_CANCELLED);
    *active->job.mutable_end_time() = TimeUtil::GetCurrentTime();
    ChangedLocked(*active, "cancelled while queued", true);
    RetireLocked(*id);
    if (metrics_ != nullptr) metrics_->Finished("cancelled", 0);
    UpdateGaugesLocked();
    return active->job;
  }
  active->cancel = true;
  ChangedLocked(*active, "cancel requested", false);
  change_cv_.wait_for(lock, wait, [&] { return active_.count(*id) == 0 || stopping_; });
  return active->job;
}

absl::StatusOr<v1::Job> JobScheduler::WaitForChange(
    const std::string& name, uint64_t* version, std::string* message,
    std::chrono::system_clock::time_point deadline) const {
  auto id = JobStore::IdOf(name, "name");
  if (!id.ok()) return id.status();
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    auto it = active_.find(*id);
    if (it == active_.end()) it = recent_.find(*id);
    if (it == recent_.end()) {
      lock.unlock();
      auto job = store_.Get(*id);
      if (job.ok()) {
        *version = kFinalVersion;
        *message = EndMessage(*job);
      }
      return job;
    }
    const Active& active = *it->second;
    if (*version == 0) {  // A new watcher: the current state first.
      *version = active.version;
      *message = active.message;
      return active.job;
    }
    if (active.version > *version) {
      for (const Change& change : active.history) {
        if (change.version > *version) {
          *version = change.version;
          *message = change.message;
          return change.job;
        }
      }
      *version = active.version;  // Fell behind the history: the latest.
      *message = active.message;
      return active.job;
    }
    if (active.job.state() >= v1::Job::STATE_SUCCEEDED) {
      *version = kFinalVersion;
      *message = EndMessage(active.job);
      return active.job;
    }
    if (stopping_) return absl::UnavailableError("the server is shutting down");
    if (change_cv_.wait_until(lock, deadline) == std::cv_status::timeout) {
      return absl::DeadlineExceededError("no change");
    }
  }
}

std::vector<std::string> JobScheduler::JobsUsingModel(const std::string& model_name) const {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<std::string> users;
  for (const auto& [id, active] : active_) {
    const v1::JobConfig& config = active->job.config();
    if (config.teacher_model() == model_name ||
        config.synthetic_data().generator_model() == model_name ||
        config.initial_student_model() == model_name) {
      users.push_back(active->job.name());
    }
  }
  return users;
}

std::shared_ptr<JobScheduler::Active> JobScheduler::PickLocked(const Worker& worker) {
  std::shared_ptr<Active> best;
  for (const auto& [id, active] : active_) {
    if (active->running || !Eligible(active->job.config().device(), worker.cuda_index >= 0)) {
      continue;
    }
    if (best == nullptr || active->job.config().priority() > best->job.config().priority() ||
        (active->job.config().priority() == best->job.config().priority() &&
         active->seq < best->seq)) {
      best = active;
    }
  }
  return best;
}

void JobScheduler::WorkerLoop(const Worker& worker) {
  while (true) {
    std::shared_ptr<Active> active;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      work_cv_.wait(lock, [&] { return stopping_ || (active = PickLocked(worker)) != nullptr; });
      if (stopping_) return;
      active->running = true;
      active->job.set_state(v1::Job::STATE_RUNNING);
      *active->job.mutable_start_time() = TimeUtil::GetCurrentTime();
      active->job.mutable_progress()->set_device(worker.device);
      active->phase_start = std::chrono::steady_clock::now();
      ChangedLocked(*active, absl::StrCat("started on ", worker.device), true);
      UpdateGaugesLocked();
    }
    RunJob(worker, active);
  }
}

void JobScheduler::OnProgress(const Worker& worker, Active& active, const v1::JobProgress& progress,
                              std::chrono::steady_clock::time_point* last_busy) {
  const auto now = std::chrono::steady_clock::now();
  if (metrics_ != nullptr) {
    metrics_->AddBusy(worker.device, std::chrono::duration<double>(now - *last_busy).count());
    if (progress.phase() == v1::JobProgress::PHASE_TRAINING && progress.steps_per_second() > 0) {
      metrics_->SetStepsPerSecond(worker.device, progress.steps_per_second());
    }
  }
  *last_busy = now;
  std::lock_guard<std::mutex> lock(mutex_);
  const v1::JobProgress::Phase previous = active.job.progress().phase();
  *active.job.mutable_progress() = progress;
  active.job.mutable_progress()->set_device(worker.device);
  if (progress.phase() != previous) {
    if (metrics_ != nullptr && previous != v1::JobProgress::PHASE_UNSPECIFIED) {
      metrics_->PhaseDone(PhaseLabel(previous),
                          std::chrono::duration<double>(now - active.phase_start).count());
    }
    active.phase_start = now;
    ChangedLocked(active, absl::StrCat("phase ", PhaseLabel(progress.phase()), " started"), true);
  } else {
    ChangedLocked(active, "", false);
  }
}

void JobScheduler::RunJob(const Worker& worker, const std::shared_ptr<Active>& active) {
  const std::string id = active->job.name().substr(5);
  JobRunContext context;
  context.device = worker.device;
  context.cuda_index = worker.cuda_index;
  context.work_dir = (std::filesystem::path(options_.work_root) / id).string();
  context.should_stop = [this, active] { return active->cancel.load() || stop_flag_.load(); };
  auto last_busy = std::chrono::steady_clock::now();
  context.report_progress = [this, &worker, &active, &last_busy](const v1::JobProgress& progress) {
    OnProgress(worker, *active, progress, &last_busy);
  };
  v1::Job snapshot;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    snapshot = active->job;
  }
  const auto start = std::chrono::steady_clock::now();
  absl::StatusOr<std::string> output;
  try {
    output = runner_(snapshot, context);
  } catch (const std::exception& e) {  // The runner should not throw; never lose the worker.
    output = absl::InternalError(absl::StrCat("job runner threw: ", e.what()));
  }
  const auto end = std::chrono::steady_clock::now();
  const double seconds = std::chrono::duration<double>(end - start).count();
  if (metrics_ != nullptr) {
    metrics_->AddBusy(worker.device, std::chrono::duration<double>(end - last_busy).count());
  }

  std::lock_guard<std::mutex> lock(mutex_);
  if (metrics_ != nullptr && active->job.progress().phase() != v1::JobProgress::PHASE_UNSPECIFIED) {
    metrics_->PhaseDone(PhaseLabel(active->job.progress().phase()),
                        std::chrono::duration<double>(end - active->phase_start).count());
  }
  std::string outcome;
  std::string message;
  if (output.ok()) {
    active->job.set_state(v1::Job::STATE_SUCCEEDED);
    active->job.set_output_model(*output);
    outcome = "succeeded";
  } else if (active->cancel) {
    active->job.set_state(v1::Job::STATE_CANCELLED);
    outcome = "cancelled";
  } else if (stop_flag_) {
    // Interrupted by shutdown: the stored row stays RUNNING so the next start
    // resumes the job from its checkpoint.
    spdlog::info("job {} interrupted by shutdown after {:.1f} s", active->job.name(), seconds);
    active_.erase(id);  // Not retired: it did not end, watchers get UNAVAILABLE.
    change_cv_.notify_all();
    return;
  } else {
    active->job.set_state(v1::Job::STATE_FAILED);
    active->job.set_error_message(std::string(output.status().message()));
    outcome = "failed";
  }
  message = EndMessage(active->job);
  *active->job.mutable_end_time() = TimeUtil::GetCurrentTime();
  spdlog::info("job {} {} after {:.1f} s", active->job.name(), message, seconds);
  active->running = false;
  ChangedLocked(*active, message, true);
  RetireLocked(id);
  if (metrics_ != nullptr) metrics_->Finished(outcome, seconds);
  UpdateGaugesLocked();
  std::error_code ec;
  std::filesystem::remove_all(context.work_dir, ec);  // Its checkpoints are no longer needed.
}

void JobScheduler::ChangedLocked(Active& active, const std::string& message, bool persist) {
  if (persist) {
    if (absl::Status s = store_.Update(active.job); !s.ok()) {
      spdlog::error("persisting job {}: {}", active.job.name(), std::string(s.message()));
    }
  }
  active.message = message;
  ++active.version;
  active.history.push_back({active.version, active.job, message});
  if (active.history.size() > kHistory) active.history.pop_front();
  change_cv_.notify_all();
}

void JobScheduler::RetireLocked(const std::string& id) {
  auto it = active_.find(id);
  if (it == active_.end()) return;
  recent_[id] = it->second;
  recent_order_.push_back(id);
  active_.erase(it);
  while (recent_order_.size() > kRecentEnded) {
    recent_.erase(recent_order_.front());
    recent_order_.pop_front();
  }
}

void JobScheduler::UpdateGaugesLocked() {
  if (metrics_ == nullptr) return;
  int64_t queued = 0;
  for (const auto& [id, active] : active_) queued += active->running ? 0 : 1;
  metrics_->SetQueueDepth(queued);
  if (auto counts = store_.CountByState(); counts.ok()) metrics_->SetJobsByState(*counts);
}

}  // namespace qf::server
