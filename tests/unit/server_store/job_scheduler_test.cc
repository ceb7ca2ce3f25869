#include "server/jobs/job_scheduler.h"

#include <gtest/gtest.h>

#include <mutex>
#include <thread>

#include "tests/unit/server_store/temp_dir.h"

namespace qf::server {
namespace {

using std::chrono::milliseconds;

// A stand-in for the quantization engine: config.steps steps of 5 ms each,
// progress after every step, polling should_stop like the engine does;
// teacher "models/fail" fails after its steps.
class FakeRunner {
 public:
  absl::StatusOr<std::string> operator()(const v1::Job& job, const JobRunContext& context) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      order_.push_back(job.name());
    }
    for (int step = 1; step <= job.config().steps(); ++step) {
      if (context.should_stop()) return absl::CancelledError("stopped");
      std::this_thread::sleep_for(milliseconds(5));
      v1::JobProgress progress;
      progress.set_phase(v1::JobProgress::PHASE_TRAINING);
      progress.set_step(step);
      progress.set_total_steps(job.config().steps());
      context.report_progress(progress);
    }
    if (job.config().teacher_model() == "models/fail") return absl::InternalError("engine broke");
    return "models/out-" + job.name().substr(5);
  }
  std::vector<std::string> order() {
    std::lock_guard<std::mutex> lock(mutex_);
    return order_;
  }

 private:
  std::mutex mutex_;
  std::vector<std::string> order_;
};

v1::JobConfig Config(int steps, int priority = 0, const std::string& teacher = "models/t") {
  v1::JobConfig config;
  config.set_teacher_model(teacher);
  config.set_steps(steps);
  config.set_priority(priority);
  return config;
}

class JobSchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto store = JobStore::Open(dir_.Sub("jobs.db"));
    ASSERT_TRUE(store.ok());
    store_ = *std::move(store);
  }
  std::unique_ptr<JobScheduler> Make(int workers = 1, int max_queued = 100) {
    SchedulerOptions options;
    options.cpu_workers = workers;
    options.max_queued = max_queued;
    options.work_root = dir_.Sub("work");
    auto scheduler = JobScheduler::Create(
        options, *store_,
        [this](const v1::Job& job, const JobRunContext& c) { return runner_(job, c); }, nullptr);
    EXPECT_TRUE(scheduler.ok()) << scheduler.status();
    return *std::move(scheduler);
  }
  // Follows the job like WatchJob does until it ends, from the change after
  // `version` (0: the current state first); returns its states.
  std::vector<v1::Job::State> Follow(JobScheduler& scheduler, const std::string& name,
                                     v1::Job* last, uint64_t version = 0) {
    std::vector<v1::Job::State> states;
    while (true) {
      std::string message;
      auto job = scheduler.WaitForChange(
          name, &version, &message, std::chrono::system_clock::now() + std::chrono::seconds(10));
      if (!job.ok()) {
        ADD_FAILURE() << job.status();
        return states;
      }
      if (states.empty() || states.back() != job->state()) states.push_back(job->state());
      *last = *job;
      if (job->state() >= v1::Job::STATE_SUCCEEDED) return states;
    }
  }

  testing::TempDir dir_;
  std::unique_ptr<JobStore> store_;
  FakeRunner runner_;
};

TEST_F(JobSchedulerTest, JobRunsToSucceededAndIsPersisted) {
  auto scheduler = Make();
  auto job = scheduler->Submit(Config(3), "");
  ASSERT_TRUE(job.ok());
  EXPECT_EQ(job->state(), v1::Job::STATE_QUEUED);
  EXPECT_EQ(store_->Get(job->name().substr(5))->state(), v1::Job::STATE_QUEUED);
  // A new watcher sees the current state first, so watch before Start():
  // afterwards a fast worker may have made the job RUNNING already.
  uint64_t version = 0;
  std::string message;
  const auto queued =
      scheduler->WaitForChange(job->name(), &version, &message, std::chrono::system_clock::now());
  ASSERT_TRUE(queued.ok()) << queued.status();
  EXPECT_EQ(queued->state(), v1::Job::STATE_QUEUED);
  scheduler->Start();
  v1::Job last;
  const auto states = Follow(*scheduler, job->name(), &last, version);
  ASSERT_FALSE(states.empty());
  EXPECT_EQ(states.back(), v1::Job::STATE_SUCCEEDED);
  EXPECT_EQ(last.output_model(), "models/out-" + job->name().substr(5));
  EXPECT_TRUE(last.has_start_time());
  EXPECT_TRUE(last.has_end_time());
  EXPECT_EQ(store_->Get(job->name().substr(5))->state(), v1::Job::STATE_SUCCEEDED);
}

TEST_F(JobSchedulerTest, FailureIsRecordedWithItsMessage) {
  auto scheduler = Make();
  scheduler->Start();
  auto job = scheduler->Submit(Config(1, 0, "models/fail"), "");
  ASSERT_TRUE(job.ok());
  v1::Job last;
  Follow(*scheduler, job->name(), &last);
  EXPECT_EQ(last.state(), v1::Job::STATE_FAILED);
  EXPECT_EQ(last.error_message(), "engine broke");
}

TEST_F(JobSchedulerTest, HigherPriorityFirstThenFifo) {
  auto scheduler = Make();
  auto low1 = scheduler->Submit(Config(1, 0), "");
  auto low2 = scheduler->Submit(Config(1, 0), "");
  auto high = scheduler->Submit(Config(1, 5), "");
  scheduler->Start();
  v1::Job last;
  Follow(*scheduler, low2->name(), &last);
  EXPECT_EQ(runner_.order(), (std::vector<std::string>{high->name(), low1->name(), low2->name()}));
}

TEST_F(JobSchedulerTest, CancelQueuedAndRunningJobs) {
  auto scheduler = Make();
  auto running = scheduler->Submit(Config(100000), "");
  auto queued = scheduler->Submit(Config(1), "");
  scheduler->Start();
  uint64_t version = 0;
  std::string message;
  // Wait until the first job runs.
  while (scheduler->Get(running->name())->state() != v1::Job::STATE_RUNNING) {
    scheduler
        ->WaitForChange(running->name(), &version, &message,
                        std::chrono::system_clock::now() + milliseconds(100))
        .IgnoreError();
  }
  auto cancelled_queued = scheduler->Cancel(queued->name(), milliseconds(0));
  ASSERT_TRUE(cancelled_queued.ok());
  EXPECT_EQ(cancelled_queued->state(), v1::Job::STATE_CANCELLED);
  const auto start = std::chrono::steady_clock::now();
  auto cancelled = scheduler->Cancel(running->name(), std::chrono::seconds(10));
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::Job::STATE_CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  EXPECT_EQ(scheduler->Cancel(running->name(), milliseconds(0)).status().code(),
            absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(store_->Get(queued->name().substr(5))->state(), v1::Job::STATE_CANCELLED);
  EXPECT_EQ(runner_.order().size(), 1u);  // The queued one never ran.
}

TEST_F(JobSchedulerTest, QueueLimitAndIdempotentRetry) {
  auto scheduler = Make(1, 2);
  auto first = scheduler->Submit(Config(1), "req-1");
  ASSERT_TRUE(first.ok());
  ASSERT_TRUE(scheduler->Submit(Config(1), "").ok());
  EXPECT_EQ(scheduler->Submit(Config(1), "").status().code(), absl::StatusCode::kResourceExhausted);
  auto retry = scheduler->Submit(Config(1), "req-1");
  ASSERT_TRUE(retry.ok()) << retry.status();
  EXPECT_EQ(retry->name(), first->name());
}

TEST_F(JobSchedulerTest, TwoWatchersSeeTheSameEnd) {
  auto scheduler = Make();
  auto job = scheduler->Submit(Config(20), "");
  scheduler->Start();
  v1::Job a, b;
  std::thread other([&] { Follow(*scheduler, job->name(), &b); });
  Follow(*scheduler, job->name(), &a);
  other.join();
  EXPECT_EQ(a.state(), v1::Job::STATE_SUCCEEDED);
  EXPECT_EQ(b.state(), v1::Job::STATE_SUCCEEDED);
  EXPECT_EQ(a.output_model(), b.output_model());
}

TEST_F(JobSchedulerTest, ASlowWatcherStillSeesEveryStepInOrder) {
  auto scheduler = Make();
  auto job = scheduler->Submit(Config(20), "");
  scheduler->Start();
  std::vector<int64_t> steps;
  uint64_t version = 0;
  while (true) {
    std::string message;
    auto seen =
        scheduler->WaitForChange(job->name(), &version, &message,
                                 std::chrono::system_clock::now() + std::chrono::seconds(10));
    ASSERT_TRUE(seen.ok()) << seen.status();
    if (seen->progress().phase() == v1::JobProgress::PHASE_TRAINING &&
        (steps.empty() || steps.back() != seen->progress().step())) {
      steps.push_back(seen->progress().step());
    }
    if (seen->state() == v1::Job::STATE_SUCCEEDED) break;
    std::this_thread::sleep_for(milliseconds(20));  // Slower than the job's 5 ms steps.
  }
  ASSERT_EQ(steps.size(), 20u);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(steps[i], i + 1);
}

TEST_F(JobSchedulerTest, ShutdownLeavesRunningJobToResumeAfterRestart) {
  std::string name;
  {
    auto scheduler = Make();
    auto job = scheduler->Submit(Config(400), "");
    name = job->name();
    scheduler->Start();
    while (scheduler->Get(name)->state() != v1::Job::STATE_RUNNING) {
      std::this_thread::sleep_for(milliseconds(5));
    }
    scheduler->Shutdown();
  }
  EXPECT_EQ(store_->Get(name.substr(5))->state(), v1::Job::STATE_RUNNING);
  auto restarted = Make();
  EXPECT_EQ(restarted->Get(name)->state(), v1::Job::STATE_QUEUED);
  restarted->Start();
  v1::Job last;
  Follow(*restarted, name, &last);
  EXPECT_EQ(last.state(), v1::Job::STATE_SUCCEEDED);
  EXPECT_EQ(runner_.order(), (std::vector<std::string>{name, name}));
  EXPECT_EQ(store_->List(v1::Job::STATE_UNSPECIFIED, 0, "")->jobs.size(), 1u);
}

TEST_F(JobSchedulerTest, JobsUsingModelListsActiveJobsOnly) {
  auto scheduler = Make();
  v1::JobConfig config = Config(1, 0, "models/teacher");
  config.set_initial_student_model("models/teacher-w4a8");
  auto job = scheduler->Submit(config, "");
  EXPECT_EQ(scheduler->JobsUsingModel("models/teacher"), std::vector<std::string>{job->name()});
  EXPECT_EQ(scheduler->JobsUsingModel("models/teacher-w4a8"),
            std::vector<std::string>{job->name()});
  EXPECT_TRUE(scheduler->JobsUsingModel("models/other").empty());
  scheduler->Start();
  v1::Job last;
  Follow(*scheduler, job->name(), &last);
  EXPECT_TRUE(scheduler->JobsUsingModel("models/teacher").empty());
  EXPECT_TRUE(scheduler->JobsUsingModel("models/teacher-w4a8").empty());
}

}  // namespace
}  // namespace qf::server
