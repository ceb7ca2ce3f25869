// QuantizationService: Quantization jobs: validation, queueing, progress and cancellation.
//
// Translates protos to core calls; holds no numerics. RPCs that later issues
// implement answer UNIMPLEMENTED with a message naming the RPC, never a silent
// success.
#ifndef QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "quantface/v1/quantization.grpc.pb.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class QuantizationService final : public v1::QuantizationService::Service {
 public:
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
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_QUANTIZATION_SERVICE_H_
