// The job system and the model registry of the real quantface-server over
// real gRPC: tiny jobs (a few QAT steps on Gaussian-noise images, batch 2,
// no evaluation) that finish in seconds on a CPU.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <sstream>
#include <thread>

#include "core/util/sha256.h"
#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/quantization.grpc.pb.h"
#include "quantface/v1/registry.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/job_polling.h"
#include "tests/integration/lfw_faces.h"
#include "tests/integration/server_process.h"
#include "tests/integration/tiny_job_config.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;
using std::chrono::seconds;

std::unique_ptr<grpc::ClientContext> Context(int timeout_seconds = 30) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + seconds(timeout_seconds));
  return context;
}

class JobsTest : public ::testing::Test {
 protected:
  void SetUp() override { Connect(server_); }

  void Connect(testing::ServerProcess& server) {
    const absl::Status started = server.Start();
    ASSERT_TRUE(started.ok()) << started;
    channel_ = grpc::CreateChannel(server.grpc_target(), grpc::InsecureChannelCredentials());
    jobs_ = v1::QuantizationService::NewStub(channel_);
    models_ = v1::ModelRegistry::NewStub(channel_);
  }

  v1::Job Submit(const v1::JobConfig& config, const std::string& request_id = "") {
    v1::SubmitJobRequest request;
    *request.mutable_config() = config;
    request.set_request_id(request_id);
    v1::Job job;
    const grpc::Status status = jobs_->SubmitJob(Context().get(), request, &job);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return job;
  }

  grpc::Status SubmitStatus(const v1::JobConfig& config) {
    v1::SubmitJobRequest request;
    *request.mutable_config() = config;
    v1::Job job;
    return jobs_->SubmitJob(Context().get(), request, &job);
  }

  // Every event of WatchJob until the stream ends.
  std::vector<v1::JobEvent> Watch(const std::string& name, int timeout_seconds = 300) {
    v1::WatchJobRequest request;
    request.set_name(name);
    auto context = Context(timeout_seconds);
    auto reader = jobs_->WatchJob(context.get(), request);
    std::vector<v1::JobEvent> events;
    v1::JobEvent event;
    while (reader->Read(&event)) events.push_back(event);
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return events;
  }

  v1::Job Get(const std::string& name) { return testing::GetJob(*jobs_, name); }

  // Polls until `done(job)` or the timeout.
  template <typename Done>
  v1::Job WaitFor(const std::string& name, Done done, int timeout_seconds = 120) {
    return testing::WaitForJob(*jobs_, name, done, timeout_seconds);
  }

  // The model's file, or the named artifact stored with it.
  std::string Download(const std::string& name, std::string* sha256,
                       const std::string& artifact = "") {
    v1::DownloadModelRequest request;
    request.set_name(name);
    request.set_artifact(artifact);
    request.set_chunk_size(64 << 10);
    auto context = Context();
    auto reader = models_->DownloadModel(context.get(), request);
    std::string bytes;
    v1::DownloadModelResponse chunk;
    while (reader->Read(&chunk)) {
      EXPECT_EQ(chunk.offset(), static_cast<int64_t>(bytes.size()));
      bytes += chunk.chunk();
      if (!chunk.sha256().empty()) *sha256 = chunk.sha256();
    }
    const grpc::Status status = reader->Finish();
    EXPECT_TRUE(status.ok()) << status.error_message();
    return bytes;
  }

  // Waits for `job` to end and returns the model it produced; on failure
  // records it and returns an empty model.
  v1::Model WaitForOutputModel(const v1::Job& job) {
    const v1::Job done = testing::WaitForJob(
        *jobs_, job.name(), [](const v1::Job& j) { return j.state() >= v1::Job::STATE_SUCCEEDED; },
        300);
    v1::Model model;
    EXPECT_EQ(done.state(), v1::Job::STATE_SUCCEEDED) << done.error_message();
    if (done.state() != v1::Job::STATE_SUCCEEDED) return model;
    v1::GetModelRequest get;
    get.set_name(done.output_model());
    const grpc::Status got = models_->GetModel(Context().get(), get, &model);
    EXPECT_TRUE(got.ok()) << got.error_message();
    return model;
  }

  grpc::Status Upload(const std::string& id, const std::string& bytes, v1::Model* model,
                      const std::string& sha256 = "") {
    auto context = Context();
    auto writer = models_->UploadModel(context.get(), model);
    v1::UploadModelRequest request;
    request.mutable_metadata()->set_model_id(id);
    request.mutable_metadata()->set_format(v1::MODEL_FORMAT_PACKED_QUANTIZED);
    request.mutable_metadata()->set_size_bytes(static_cast<int64_t>(bytes.size()));
    request.mutable_metadata()->set_sha256(sha256);
    writer->Write(request);
    for (size_t offset = 0; offset < bytes.size(); offset += 100000) {
      request.set_chunk(bytes.substr(offset, 100000));
      if (!writer->Write(request)) break;
    }
    writer->WritesDone();
    return writer->Finish();
  }

  std::vector<v1::Model> ListModels() {
    v1::ListModelsResponse response;
    EXPECT_TRUE(models_->ListModels(Context().get(), v1::ListModelsRequest(), &response).ok());
    return {response.models().begin(), response.models().end()};
  }

  testing::ServerProcess server_{{"--job-checkpoint-every=5"}};
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::QuantizationService::Stub> jobs_;
  std::unique_ptr<v1::ModelRegistry::Stub> models_;
};

TEST_F(JobsTest, SubmitWatchSucceedDownloadAndServeTheStudent) {
  const v1::Job job = Submit(testing::TinyJobConfig(3), "tiny-1");
  EXPECT_EQ(job.state(), v1::Job::STATE_QUEUED);
  EXPECT_EQ(job.name().rfind("jobs/", 0), 0u);
  EXPECT_EQ(job.config().optimizer().momentum(), 0.9);  // Defaults filled in.
  // The same request id returns the same job.
  EXPECT_EQ(Submit(testing::TinyJobConfig(3), "tiny-1").name(), job.name());

  const std::vector<v1::JobEvent> events = Watch(job.name());
  ASSERT_FALSE(events.empty());
  bool saw_training = false;
  int64_t last_step = 0;
  for (const v1::JobEvent& event : events) {
    if (event.job().progress().phase() == v1::JobProgress::PHASE_TRAINING) {
      saw_training = true;
      EXPECT_GE(event.job().progress().step(), last_step);
      last_step = event.job().progress().step();
      EXPECT_EQ(event.job().progress().total_steps(), 3);
      EXPECT_EQ(event.job().progress().device(), "cpu");
    }
  }
  EXPECT_TRUE(saw_training);
  EXPECT_EQ(last_step, 3);
  const v1::Job done = events.back().job();
  ASSERT_EQ(done.state(), v1::Job::STATE_SUCCEEDED) << done.error_message();
  EXPECT_TRUE(done.has_start_time());
  EXPECT_TRUE(done.has_end_time());

  v1::GetModelRequest get;
  get.set_name(done.output_model());
  v1::Model model;
  ASSERT_TRUE(models_->GetModel(Context().get(), get, &model).ok());
  EXPECT_EQ(model.format(), v1::MODEL_FORMAT_PACKED_QUANTIZED);
  EXPECT_EQ(model.architecture(), "dlib-resnet");
  EXPECT_EQ(model.weight_bits(), 8);
  EXPECT_EQ(model.teacher_model(), "models/dlib-resnet");
  EXPECT_EQ(model.source_job(), job.name());
  EXPECT_EQ(model.synthetic_data().source(), v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
  EXPECT_GT(model.compression_ratio(), 3.0);

  std::string sha256;
  const std::string bytes = Download(model.name(), &sha256);
  EXPECT_EQ(static_cast<int64_t>(bytes.size()), model.size_bytes());
  EXPECT_EQ(Sha256Hex(bytes), model.sha256());
  EXPECT_EQ(sha256, model.sha256());

  // The downloaded file uploads again as a valid model.
  v1::Model uploaded;
  const grpc::Status upload = Upload("copy-of-student", bytes, &uploaded, sha256);
  ASSERT_TRUE(upload.ok()) << upload.error_message();
  EXPECT_EQ(uploaded.sha256(), model.sha256());

  // The student serves Embed.
  auto verification = v1::VerificationService::NewStub(channel_);
  v1::EmbedRequest embed;
  embed.set_model(model.name());
  auto* face = embed.mutable_face()->mutable_landmarked_image();
  face->set_image(testing::ReadLfwImage("Abel_Pacheco/Abel_Pacheco_0001.jpg"));
  const std::vector<float> points = {58.2, 64.8, 84.0, 63.0, 68.4, 80.4, 64.8, 92.4, 87.0, 91.8};
  for (size_t i = 0; i < points.size(); i += 2) {
    v1::Point* point = face->add_landmarks();
    point->set_x(points[i]);
    point->set_y(points[i + 1]);
  }
  v1::EmbedResponse embedding;
  const grpc::Status embedded = verification->Embed(Context(120).get(), embed, &embedding);
  ASSERT_TRUE(embedded.ok()) << embedded.error_message();
  EXPECT_EQ(embedding.embedding().values_size(), 128);
  EXPECT_EQ(embedding.embedding().model(), model.name());

  // A model bound to a gallery cannot be deleted until the gallery is gone.
  auto galleries = v1::GalleryService::NewStub(channel_);
  v1::CreateGalleryRequest create;
  create.set_gallery_id("uses-copy");
  create.mutable_gallery()->set_model(uploaded.name());
  v1::Gallery gallery;
  ASSERT_TRUE(galleries->CreateGallery(Context().get(), create, &gallery).ok());
  v1::DeleteModelRequest remove_copy;
  remove_copy.set_name(uploaded.name());
  google::protobuf::Empty nothing;
  const grpc::Status in_use = models_->DeleteModel(Context().get(), remove_copy, &nothing);
  EXPECT_EQ(in_use.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(in_use.error_message().find("uses-copy"), std::string::npos) << in_use.error_message();
  v1::DeleteGalleryRequest drop;
  drop.set_name(gallery.name());
  ASSERT_TRUE(galleries->DeleteGallery(Context().get(), drop, &nothing).ok());
  const grpc::Status freed = models_->DeleteModel(Context().get(), remove_copy, &nothing);
  EXPECT_TRUE(freed.ok()) << freed.error_message();

  // Deleting: built-ins never, the student yes (its file goes with it).
  v1::DeleteModelRequest remove;
  google::protobuf::Empty empty;
  remove.set_name("models/dlib-resnet");
  EXPECT_EQ(models_->DeleteModel(Context().get(), remove, &empty).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  remove.set_name(model.name());
  ASSERT_TRUE(models_->DeleteModel(Context().get(), remove, &empty).ok());
  EXPECT_EQ(models_->GetModel(Context().get(), get, &model).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

// The rendered built-in faces as the source, with MSE-clipped weight ranges,
// MSE-clipped activation ranges learned further after the warm-up, the
// feature loss and AdamW: the job trains past its warm-up, the config keeps
// the choices (AdamW with its own default rate) and the student records
// where its data came from.
TEST_F(JobsTest, ProceduralFacesJobWithMseLearnedRangesAndAdamWSucceeds) {
  v1::JobConfig config = testing::TinyJobConfig(4);
  config.set_weight_bits(4);
  config.set_activation_bits(4);
  config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES);
  config.set_learn_activation_ranges(true);
  config.set_activation_ranges(v1::JobConfig::ACTIVATION_RANGES_MSE);
  config.set_weight_ranges(v1::JobConfig::WEIGHT_RANGES_MSE);
  config.set_feature_loss_weight(0.01);
  config.mutable_optimizer()->set_algorithm(v1::OptimizerConfig::ALGORITHM_ADAMW);
  const v1::Job job = Submit(config);
  EXPECT_EQ(job.config().optimizer().algorithm(), v1::OptimizerConfig::ALGORITHM_ADAMW);
  EXPECT_DOUBLE_EQ(job.config().optimizer().learning_rate(), 1e-4);
  EXPECT_TRUE(job.config().learn_activation_ranges());
  EXPECT_EQ(job.config().activation_ranges(), v1::JobConfig::ACTIVATION_RANGES_MSE);
  EXPECT_EQ(job.config().weight_ranges(), v1::JobConfig::WEIGHT_RANGES_MSE);
  EXPECT_EQ(job.config().feature_loss_weight(), 0.01);
  const v1::Model model = WaitForOutputModel(job);
  ASSERT_FALSE(model.name().empty());
  EXPECT_EQ(model.activation_bits(), 4);
  EXPECT_EQ(model.synthetic_data().source(), v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES);
  EXPECT_EQ(model.synthetic_data().seed(), 7u);
}

// Rendered faces refined by inversion: the job generates them, and the
// student records the source and its spread.
TEST_F(JobsTest, InvertedFacesJobSucceedsAndRecordsItsSource) {
  v1::JobConfig config = testing::TinyJobConfig(2);
  config.set_method(v1::JobConfig::METHOD_PTQ);
  auto& data = *config.mutable_synthetic_data();
  data.set_source(v1::SyntheticDataConfig::SOURCE_INVERTED_FACES);
  data.set_num_images(4);
  data.set_spread(1.5);
  const v1::Job job = Submit(config);
  const v1::Model model = WaitForOutputModel(job);
  ASSERT_FALSE(model.name().empty());
  EXPECT_EQ(model.synthetic_data().source(), v1::SyntheticDataConfig::SOURCE_INVERTED_FACES);
  EXPECT_EQ(model.synthetic_data().num_images(), 4);
  EXPECT_DOUBLE_EQ(model.synthetic_data().spread(), 1.5);
}

// Depthwise convs kept at 8 bits: a faceres job packs them at 8 bits (its
// file grows by their extra 4 bits a weight), and a dlib-resnet job, which
// has none to keep, fails saying so instead of ignoring the option.
TEST_F(JobsTest, KeepDepthwise8BitGrowsFaceresAndFailsForDlibResnet) {
  int64_t sizes[2] = {0, 0};
  for (const bool keep : {false, true}) {
    v1::JobConfig config = testing::TinyJobConfig(1);
    config.set_teacher_model("models/faceres");
    config.set_method(v1::JobConfig::METHOD_PTQ);
    config.set_weight_bits(4);
    config.set_keep_depthwise_8bit(keep);
    const v1::Job job = Submit(config);
    EXPECT_EQ(job.config().keep_depthwise_8bit(), keep);
    sizes[keep] = WaitForOutputModel(job).size_bytes();
  }
  // faceres' 13 depthwise convs hold 44,640 weights: 4 more bits each.
  EXPECT_GT(sizes[1], sizes[0] + 44640 / 2 - 1024);
  EXPECT_LT(sizes[1], sizes[0] + 44640 / 2 + 1024);

  v1::JobConfig dlib = testing::TinyJobConfig(1);
  dlib.set_keep_depthwise_8bit(true);
  const v1::Job failed = WaitFor(
      Submit(dlib).name(), [](const v1::Job& j) { return j.state() >= v1::Job::STATE_SUCCEEDED; });
  EXPECT_EQ(failed.state(), v1::Job::STATE_FAILED);
  EXPECT_NE(failed.error_message().find("no depthwise conv"), std::string::npos)
      << failed.error_message();
}

// keep_add_operands_8bit and keep_residual_operands_8bit reach the engine:
// a dlib-resnet job with either succeeds, and a faceres job, which has no
// residual adds, fails saying so.
TEST_F(JobsTest, AddOperandOptionsRunForDlibResnetAndFailForFaceres) {
  using Setter = void (v1::JobConfig::*)(bool);
  for (const Setter set : {&v1::JobConfig::set_keep_add_operands_8bit,
                           &v1::JobConfig::set_keep_residual_operands_8bit}) {
    v1::JobConfig dlib = testing::TinyJobConfig(1);
    dlib.set_method(v1::JobConfig::METHOD_PTQ);
    dlib.set_weight_bits(4);
    dlib.set_activation_bits(4);
    (dlib.*set)(true);
    const v1::Job job = Submit(dlib);
    EXPECT_NE(job.config().keep_add_operands_8bit(), job.config().keep_residual_operands_8bit());
    EXPECT_GT(WaitForOutputModel(job).size_bytes(), 0);

    v1::JobConfig faceres = testing::TinyJobConfig(1);
    faceres.set_teacher_model("models/faceres");
    (faceres.*set)(true);
    const v1::Job failed = WaitFor(Submit(faceres).name(), [](const v1::Job& j) {
      return j.state() >= v1::Job::STATE_SUCCEEDED;
    });
    EXPECT_EQ(failed.state(), v1::Job::STATE_FAILED);
    EXPECT_NE(failed.error_message().find("no residual adds"), std::string::npos)
        << failed.error_message();
  }
}

// Progressive quantization: a w4a4 job starts from an earlier w8a8 student
// of its teacher. The log stored with its model says so, the student it
// starts from cannot be deleted while the job is active, and a job of
// another teacher is refused at submission.
TEST_F(JobsTest, AJobStartsFromAnEarlierStudentOfItsTeacher) {
  const v1::Model start = WaitForOutputModel(Submit(testing::TinyJobConfig(1)));
  ASSERT_FALSE(start.name().empty());

  v1::JobConfig config = testing::TinyJobConfig(2);
  config.set_weight_bits(4);
  config.set_activation_bits(4);
  config.set_initial_student_model(start.name());
  const v1::Job job = Submit(config);
  EXPECT_EQ(job.config().initial_student_model(), start.name());
  v1::DeleteModelRequest remove;
  remove.set_name(start.name());
  google::protobuf::Empty nothing;
  const grpc::Status in_use = models_->DeleteModel(Context().get(), remove, &nothing);
  EXPECT_EQ(in_use.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(in_use.error_message().find(job.name()), std::string::npos) << in_use.error_message();

  const v1::Model model = WaitForOutputModel(job);
  ASSERT_FALSE(model.name().empty());
  EXPECT_EQ(model.weight_bits(), 4);
  std::string sha256;
  const std::string log = Download(model.name(), &sha256, "log");
  EXPECT_NE(log.find("started from the weights of " + start.name() + " (sha256 " + start.sha256()),
            std::string::npos)
      << log;
  const grpc::Status freed = models_->DeleteModel(Context().get(), remove, &nothing);
  EXPECT_TRUE(freed.ok()) << freed.error_message();

  v1::JobConfig other = testing::TinyJobConfig(1);
  other.set_teacher_model("models/faceres");
  other.set_initial_student_model(model.name());
  const grpc::Status refused = SubmitStatus(other);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(refused.error_message().find("is a student of models/dlib-resnet"), std::string::npos)
      << refused.error_message();
}

TEST_F(JobsTest, InvalidConfigsAreRefusedNamingTheField) {
  struct Case {
    std::string field;
    grpc::StatusCode code;
    std::function<void(v1::JobConfig&)> change;
  };
  const std::vector<Case> cases = {
      {"config.teacher_model", grpc::StatusCode::NOT_FOUND,
       [](v1::JobConfig& c) { c.set_teacher_model("models/nope"); }},
      {"config.teacher_model", grpc::StatusCode::FAILED_PRECONDITION,
       [](v1::JobConfig& c) { c.set_teacher_model("models/mobileface"); }},
      {"config.weight_bits", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_weight_bits(9); }},
      {"config.activation_bits", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_activation_bits(1); }},
      {"config.steps", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_steps(-3); }},
      {"config.batch_size", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_batch_size(1 << 20); }},
      {"config.synthetic_data.source", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.mutable_synthetic_data()->clear_source(); }},
      {"config.synthetic_data.declared_synthetic", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) {
         c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER);
         c.mutable_synthetic_data()->set_image_folder("/tmp");
       }},
      {"config.synthetic_data.image_folder", grpc::StatusCode::NOT_FOUND,
       [](v1::JobConfig& c) {
         c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER);
         c.mutable_synthetic_data()->set_image_folder("/no/such/folder");
         c.mutable_synthetic_data()->set_declared_synthetic(true);
       }},
      {"config.evaluation_protocol", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_evaluation_protocol("megaface"); }},
      {"config.learn_activation_ranges", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) {
         c.set_method(v1::JobConfig::METHOD_PTQ);
         c.set_learn_activation_ranges(true);
       }},
      {"config.activation_ranges", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) {
         c.set_activation_ranges(static_cast<v1::JobConfig::ActivationRanges>(7));
       }},
      {"config.weight_ranges", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_weight_ranges(static_cast<v1::JobConfig::WeightRanges>(7)); }},
      {"config.feature_loss_weight", grpc::StatusCode::INVALID_ARGUMENT,
       [](v1::JobConfig& c) { c.set_feature_loss_weight(-0.5); }},
  };
  for (const Case& c : cases) {
    v1::JobConfig config = testing::TinyJobConfig(3);
    c.change(config);
    const grpc::Status status = SubmitStatus(config);
    EXPECT_EQ(status.error_code(), c.code) << c.field << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.field), std::string::npos)
        << status.error_message() << " does not name " << c.field;
  }
  v1::ListJobsResponse listed;
  ASSERT_TRUE(jobs_->ListJobs(Context().get(), v1::ListJobsRequest(), &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);  // Nothing refused was stored.
}

TEST_F(JobsTest, CancelStopsARunningJobAndTwoWatchersSeeIt) {
  const v1::Job job = Submit(testing::TinyJobConfig(100000));
  WaitFor(job.name(), [](const v1::Job& j) {
    return j.progress().phase() == v1::JobProgress::PHASE_TRAINING && j.progress().step() >= 1;
  });
  std::vector<v1::JobEvent> first, second;
  std::thread watcher1([&] { first = Watch(job.name()); });
  std::thread watcher2([&] { second = Watch(job.name()); });
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const auto start = std::chrono::steady_clock::now();
  v1::CancelJobRequest cancel;
  cancel.set_name(job.name());
  v1::Job cancelled;
  ASSERT_TRUE(jobs_->CancelJob(Context().get(), cancel, &cancelled).ok());
  EXPECT_EQ(cancelled.state(), v1::Job::STATE_CANCELLED);
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(10));
  watcher1.join();
  watcher2.join();
  ASSERT_FALSE(first.empty());
  ASSERT_FALSE(second.empty());
  // Late joiners get the current state first: the job was already running.
  EXPECT_EQ(first.front().job().state(), v1::Job::STATE_RUNNING);
  EXPECT_EQ(second.front().job().state(), v1::Job::STATE_RUNNING);
  EXPECT_EQ(first.back().job().state(), v1::Job::STATE_CANCELLED);
  EXPECT_EQ(second.back().job().state(), v1::Job::STATE_CANCELLED);
  EXPECT_EQ(jobs_->CancelJob(Context().get(), cancel, &cancelled).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  v1::ListJobsRequest list;
  list.set_state(v1::Job::STATE_CANCELLED);
  v1::ListJobsResponse listed;
  ASSERT_TRUE(jobs_->ListJobs(Context().get(), list, &listed).ok());
  ASSERT_EQ(listed.jobs_size(), 1);
  EXPECT_EQ(listed.jobs(0).name(), job.name());
  list.set_state(v1::Job::STATE_SUCCEEDED);
  ASSERT_TRUE(jobs_->ListJobs(Context().get(), list, &listed).ok());
  EXPECT_EQ(listed.jobs_size(), 0);
}

TEST_F(JobsTest, KillDashNineMidJobThenRestartResumesFromCheckpoint) {
  const v1::Job job = Submit(testing::TinyJobConfig(40));
  // Past the checkpoint at step 10 (checkpoint every 5 steps).
  WaitFor(job.name(), [](const v1::Job& j) {
    return j.progress().phase() == v1::JobProgress::PHASE_TRAINING && j.progress().step() >= 12;
  });
  server_.Stop(SIGKILL);

  testing::ServerProcess restarted({"--job-checkpoint-every=5"});
  restarted.set_data_dir(server_.data_dir());
  Connect(restarted);
  const std::vector<v1::JobEvent> events = Watch(job.name());
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.back().job().state(), v1::Job::STATE_SUCCEEDED)
      << events.back().job().error_message();
  // Training resumed from a checkpoint: its first step after the restart is
  // beyond the steps done before the kill's last checkpoint, not step 1.
  int64_t first_step = 0;
  for (const v1::JobEvent& event : events) {
    if (event.job().progress().phase() == v1::JobProgress::PHASE_TRAINING &&
        event.job().progress().step() > 0) {
      first_step = event.job().progress().step();
      break;
    }
  }
  EXPECT_GT(first_step, 10);
  // Nothing duplicated or lost: one job, one model made by it.
  v1::ListJobsResponse listed;
  ASSERT_TRUE(jobs_->ListJobs(Context().get(), v1::ListJobsRequest(), &listed).ok());
  ASSERT_EQ(listed.jobs_size(), 1);
  EXPECT_EQ(listed.jobs(0).name(), job.name());
  int produced = 0;
  for (const v1::Model& model : ListModels()) produced += model.source_job() == job.name() ? 1 : 0;
  EXPECT_EQ(produced, 1);
}

TEST_F(JobsTest, CorruptUploadsAreRejectedAndNothingIsStored) {
  const size_t before = ListModels().size();
  v1::Model model;
  const grpc::Status junk = Upload("junk", std::string(5000, 'j'), &model);
  EXPECT_EQ(junk.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << junk.error_message();
  const grpc::Status truncated_header = Upload("short", "QFPACKED", &model);
  EXPECT_EQ(truncated_header.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  const grpc::Status bad_id = Upload("Not An Id", "QFPACKED", &model);
  EXPECT_EQ(bad_id.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(ListModels().size(), before);
  v1::GetModelRequest get;
  get.set_name("models/junk");
  EXPECT_EQ(models_->GetModel(Context().get(), get, &model).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(JobsTest, RegistryListsBuiltinsWithDefaultAndFilters) {
  std::vector<v1::Model> models = ListModels();
  ASSERT_GE(models.size(), 3u);
  EXPECT_EQ(models[0].name(), "models/dlib-resnet");
  EXPECT_TRUE(models[0].is_default());
  EXPECT_EQ(models[0].format(), v1::MODEL_FORMAT_BUILTIN);
  EXPECT_EQ(models[0].embedding_dim(), 128);
  v1::ListModelsRequest filter;
  filter.set_architecture("faceres");
  v1::ListModelsResponse response;
  ASSERT_TRUE(models_->ListModels(Context().get(), filter, &response).ok());
  ASSERT_EQ(response.models_size(), 1);
  EXPECT_EQ(response.models(0).embedding_dim(), 1024);
  v1::SetDefaultModelRequest set_default;
  set_default.set_name("models/faceres");
  v1::Model model;
  ASSERT_TRUE(models_->SetDefaultModel(Context().get(), set_default, &model).ok());
  EXPECT_TRUE(model.is_default());
  set_default.set_name("models/missing");
  EXPECT_EQ(models_->SetDefaultModel(Context().get(), set_default, &model).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::DownloadModelRequest download;
  download.set_name("models/faceres");
  auto context = Context();
  auto reader = models_->DownloadModel(context.get(), download);
  v1::DownloadModelResponse chunk;
  EXPECT_FALSE(reader->Read(&chunk));
  EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::FAILED_PRECONDITION);
}

}  // namespace
}  // namespace qf
