#include "server/jobs/job_store.h"

#include <gtest/gtest.h>

#include "tests/unit/server_store/temp_dir.h"

namespace qf::server {
namespace {

v1::Job NewJob(const std::string& request_id = "") {
  v1::Job job;
  job.set_name("jobs/" + JobStore::NewId());
  job.set_state(v1::Job::STATE_QUEUED);
  job.set_request_id(request_id);
  job.mutable_config()->set_teacher_model("models/dlib-resnet");
  return job;
}

TEST(JobStoreTest, CreateGetUpdateSurviveReopen) {
  testing::TempDir dir;
  v1::Job job = NewJob();
  {
    auto store = JobStore::Open(dir.Sub("jobs.db"));
    ASSERT_TRUE(store.ok()) << store.status();
    bool created = false;
    ASSERT_TRUE((*store)->Create(job, &created).ok());
    EXPECT_TRUE(created);
    job.set_state(v1::Job::STATE_RUNNING);
    job.mutable_progress()->set_step(7);
    ASSERT_TRUE((*store)->Update(job).ok());
  }
  auto store = JobStore::Open(dir.Sub("jobs.db"));
  ASSERT_TRUE(store.ok());
  auto loaded = (*store)->Get(job.name().substr(5));
  ASSERT_TRUE(loaded.ok());
  EXPECT_EQ(loaded->state(), v1::Job::STATE_RUNNING);
  EXPECT_EQ(loaded->progress().step(), 7);
  EXPECT_EQ((*store)->Get("nope").status().code(), absl::StatusCode::kNotFound);
  auto running = (*store)->InStates({v1::Job::STATE_RUNNING});
  ASSERT_TRUE(running.ok());
  EXPECT_EQ(running->size(), 1u);
}

TEST(JobStoreTest, RequestIdMakesCreateIdempotent) {
  testing::TempDir dir;
  auto store = JobStore::Open(dir.Sub("jobs.db"));
  ASSERT_TRUE(store.ok());
  bool created = false;
  auto first = (*store)->Create(NewJob("req-1"), &created);
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(created);
  auto second = (*store)->Create(NewJob("req-1"), &created);
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(created);
  EXPECT_EQ(second->name(), first->name());
  ASSERT_TRUE((*store)->Create(NewJob(), &created).ok());
  ASSERT_TRUE((*store)->Create(NewJob(), &created).ok());  // Empty ids never collide.
  EXPECT_EQ((*store)->List(v1::Job::STATE_UNSPECIFIED, 0, "")->jobs.size(), 3u);
}

TEST(JobStoreTest, ListIsNewestFirstWithPagesAndStateFilter) {
  testing::TempDir dir;
  auto store = JobStore::Open(dir.Sub("jobs.db"));
  ASSERT_TRUE(store.ok());
  std::vector<std::string> names;
  for (int i = 0; i < 5; ++i) {
    v1::Job job = NewJob();
    if (i % 2 == 0) job.set_state(v1::Job::STATE_SUCCEEDED);
    bool created = false;
    ASSERT_TRUE((*store)->Create(job, &created).ok());
    names.push_back(job.name());
  }
  auto page = (*store)->List(v1::Job::STATE_UNSPECIFIED, 2, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->jobs.size(), 2u);
  EXPECT_EQ(page->jobs[0].name(), names[4]);
  EXPECT_EQ(page->next_page_token, "2");
  auto last = (*store)->List(v1::Job::STATE_UNSPECIFIED, 2, "4");
  ASSERT_EQ(last->jobs.size(), 1u);
  EXPECT_EQ(last->jobs[0].name(), names[0]);
  EXPECT_TRUE(last->next_page_token.empty());
  EXPECT_EQ((*store)->List(v1::Job::STATE_SUCCEEDED, 0, "")->jobs.size(), 3u);
  EXPECT_EQ((*store)->CountByState()->at(v1::Job::STATE_QUEUED), 2);
  EXPECT_EQ((*store)->List(v1::Job::STATE_UNSPECIFIED, 0, "-1").status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::server
