#include "server/services/quantization_service.h"

#include <google/protobuf/util/time_util.h>

#include <chrono>

#include "absl/strings/str_cat.h"
#include "server/grpc_status.h"

namespace qf::server {
namespace {

bool Terminal(v1::Job::State state) {
  return state == v1::Job::STATE_SUCCEEDED || state == v1::Job::STATE_FAILED ||
         state == v1::Job::STATE_CANCELLED;
}

}  // namespace

grpc::Status QuantizationService::SubmitJob(grpc::ServerContext*,
                                            const v1::SubmitJobRequest* request,
                                            v1::Job* response) {
  if (request->request_id().size() > 128) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        "request_id must be at most 128 characters");
  }
  if (!request->has_config()) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT, "config is required");
  }
  auto config = ValidateJobConfig(request->config(), registry_, limits_);
  if (!config.ok()) return ToGrpcStatus(config.status());
  auto job = scheduler_.Submit(*config, request->request_id());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status QuantizationService::GetJob(grpc::ServerContext*, const v1::GetJobRequest* request,
                                         v1::Job* response) {
  auto job = scheduler_.Get(request->name());
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status QuantizationService::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest* request,
                                           v1::ListJobsResponse* response) {
  if (!v1::Job::State_IsValid(request->state())) {
    return grpc::Status(grpc::StatusCode::INVALID_ARGUMENT,
                        absl::StrCat("state ", request->state(), " is not a job state"));
  }
  auto page = scheduler_.List(request->state(), request->page_size(), request->page_token());
  if (!page.ok()) return ToGrpcStatus(page.status());
  for (v1::Job& job : page->jobs) *response->add_jobs() = std::move(job);
  response->set_next_page_token(page->next_page_token);
  return grpc::Status::OK;
}

grpc::Status QuantizationService::CancelJob(grpc::ServerContext*,
                                            const v1::CancelJobRequest* request,
                                            v1::Job* response) {
  auto job = scheduler_.Cancel(request->name(), std::chrono::seconds(10));
  if (!job.ok()) return ToGrpcStatus(job.status());
  *response = *std::move(job);
  return grpc::Status::OK;
}

grpc::Status QuantizationService::WatchJob(grpc::ServerContext* context,
                                           const v1::WatchJobRequest* request,
                                           grpc::ServerWriter<v1::JobEvent>* writer) {
  uint64_t version = 0;
  while (!context->IsCancelled()) {
    std::string message;
    // Short waits so that a client that went away frees this thread soon.
    auto job =
        scheduler_.WaitForChange(request->name(), &version, &message,
                                 std::chrono::system_clock::now() + std::chrono::milliseconds(500));
    if (job.status().code() == absl::StatusCode::kDeadlineExceeded) continue;
    if (!job.ok()) return ToGrpcStatus(job.status());
    v1::JobEvent event;
    *event.mutable_job() = *job;
    *event.mutable_event_time() = google::protobuf::util::TimeUtil::GetCurrentTime();
    event.set_message(message);
    if (!writer->Write(event)) return grpc::Status(grpc::StatusCode::CANCELLED, "watcher left");
    if (Terminal(job->state())) return grpc::Status::OK;
    if (version == JobScheduler::kFinalVersion) {
      return grpc::Status(grpc::StatusCode::UNAVAILABLE,
                          "the job is no longer scheduled here (server shutting down)");
    }
  }
  return grpc::Status(grpc::StatusCode::CANCELLED, "watcher left");
}

}  // namespace qf::server
