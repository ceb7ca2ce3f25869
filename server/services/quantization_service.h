// QuantizationService: the gRPC face of the job system (server/jobs).
//
// SubmitJob validates the whole config (job_validator.h) before the scheduler
// persists it; WatchJob streams the current state first, then every change
// until the job ends or the client goes away; CancelJob waits a few seconds
// for a running job to stop. Training never runs on these threads.
#ifndef QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "quantface/v1/quantization.grpc.pb.h"
#include "server/jobs/job_scheduler.h"
#include "server/jobs/job_validator.h"
#include "server/registry/model_registry.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class QuantizationService final : public v1::QuantizationService::Service {
 public:
  QuantizationService(JobScheduler& scheduler, const ModelRegistry& registry, JobLimits limits)
      : scheduler_(scheduler), registry_(registry), limits_(std::move(limits)) {}

  grpc::Status SubmitJob(grpc::ServerContext* context, const v1::SubmitJobRequest* request,
                         v1::Job* response) override;
  grpc::Status GetJob(grpc::ServerContext* context, const v1::GetJobRequest* request,
                      v1::Job* response) override;
  grpc::Status ListJobs(grpc::ServerContext* context, const v1::ListJobsRequest* request,
                        v1::ListJobsResponse* response) override;
  grpc::Status CancelJob(grpc::ServerContext* context, const v1::CancelJobRequest* request,
                         v1::Job* response) override;
  grpc::Status WatchJob(grpc::ServerContext* context, const v1::WatchJobRequest* request,
                        grpc::ServerWriter<v1::JobEvent>* writer) override;

 private:
  JobScheduler& scheduler_;
  const ModelRegistry& registry_;
  const JobLimits limits_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
