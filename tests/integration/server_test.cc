// The real quantface-server binary over real gRPC on a loopback port.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>

#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/quantization.grpc.pb.h"
#include "quantface/v1/registry.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;

class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(server_.Start().ok());
    channel_ = grpc::CreateChannel(server_.grpc_target(), grpc::InsecureChannelCredentials());
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    return context;
  }

  testing::ServerProcess server_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(ServerTest, JobAndRegistryRpcsValidateTheirRequests) {
  auto jobs = v1::QuantizationService::NewStub(channel_);
  v1::Job job;
  const grpc::Status submit = jobs->SubmitJob(Context().get(), v1::SubmitJobRequest(), &job);
  EXPECT_EQ(submit.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(submit.error_message().find("config"), std::string::npos);
  {
    auto context = Context();
    auto reader = jobs->WatchJob(context.get(), v1::WatchJobRequest());
    v1::JobEvent event;
    EXPECT_FALSE(reader->Read(&event));
    EXPECT_EQ(reader->Finish().error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  }
  auto registry = v1::ModelRegistry::NewStub(channel_);
  {
    auto context = Context();
    v1::Model model;
    auto writer = registry->UploadModel(context.get(), &model);
    writer->WritesDone();
    const grpc::Status upload = writer->Finish();
    EXPECT_EQ(upload.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
    EXPECT_NE(upload.error_message().find("metadata"), std::string::npos);
  }
  const std::string metrics = testing::HttpGet(server_.metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("quantface_registry_models 3"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("quantface_job_queue_depth 0"), std::string::npos) << metrics;
  EXPECT_NE(metrics.find("quantface_jobs{state=\"queued\"} 0"), std::string::npos) << metrics;
}

TEST_F(ServerTest, InterceptorCountsEveryCallByMethodAndCode) {
  auto galleries = v1::GalleryService::NewStub(channel_);
  v1::Gallery gallery;
  for (int i = 0; i < 3; ++i) {
    (void)galleries->GetGallery(Context().get(), v1::GetGalleryRequest(), &gallery);
  }
  const std::string metrics = testing::HttpGet(server_.metrics_port(), "/metrics");
  EXPECT_NE(
      metrics.find("quantface_rpc_requests_total{code=\"INVALID_ARGUMENT\",method=\"quantface."
                   "v1.GalleryService/GetGallery\"} 3"),
      std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("quantface_rpc_duration_seconds_count{method=\"quantface.v1."
                         "GalleryService/GetGallery\"} 3"),
            std::string::npos);
  EXPECT_NE(metrics.find("process_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(metrics.find("quantface_build_info{version="), std::string::npos);
}

TEST_F(ServerTest, SigtermShutsDownGracefully) {
  EXPECT_EQ(server_.Stop(SIGTERM), 0);
  std::ifstream log(server_.log_path());
  const std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("shutdown complete"), std::string::npos) << text;
}

TEST(ServerLimitsTest, OversizedRequestIsResourceExhausted) {
  testing::ServerProcess server({"--max-receive-message-bytes=4096"});
  ASSERT_TRUE(server.Start().ok());
  auto stub = v1::VerificationService::NewStub(
      grpc::CreateChannel(server.grpc_target(), grpc::InsecureChannelCredentials()));
  v1::EmbedRequest request;
  request.mutable_face()->set_image(std::string(16384, 'x'));
  v1::EmbedResponse response;
  grpc::ClientContext context;
  const grpc::Status status = stub->Embed(&context, request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << status.error_message();
}

TEST(ServerConfigTest, InvalidFlagValueExitsWithMessage) {
  const auto result = testing::RunCommand({QF_SERVER_BINARY, "--log-level=verbose"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.out.find("log_level 'verbose'"), std::string::npos) << result.out << result.err;
}

TEST(ServerConfigTest, UnknownYamlKeyIsRejected) {
  const std::string path = ::testing::TempDir() + "/bad-config.yaml";
  std::ofstream(path) << "grpc_adress: 127.0.0.1:1\n";
  const auto result = testing::RunCommand({QF_SERVER_BINARY, "--config", path});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.out.find("unknown config key 'grpc_adress'"), std::string::npos)
      << result.out << result.err;
}

TEST(ServerConfigTest, FlagsOverrideEnvironmentOverrideYaml) {
  const std::string path = ::testing::TempDir() + "/layered.yaml";
  std::ofstream(path) << "log_level: warn\nmax_rpc_threads: 9\ndata_dir: from-yaml\n";
  setenv("QUANTFACE_MAX_RPC_THREADS", "11", 1);
  const auto result = testing::RunCommand(
      {QF_SERVER_BINARY, "--config", path, "--data-dir", "from-flag", "--print-config"});
  unsetenv("QUANTFACE_MAX_RPC_THREADS");
  EXPECT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("log_level: warn"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("max_rpc_threads: 11"), std::string::npos) << result.out;
  EXPECT_NE(result.out.find("data_dir: from-flag"), std::string::npos) << result.out;
}

}  // namespace
}  // namespace qf
