#include "server/services/quantization_service.h"

#include "server/grpc_status.h"

namespace qf::server {

grpc::Status QuantizationService::SubmitJob(grpc::ServerContext*, const v1::SubmitJobRequest*,
                                            v1::Job*) {
  return Unimplemented("quantface.v1.QuantizationService/SubmitJob");
}

grpc::Status QuantizationService::GetJob(grpc::ServerContext*, const v1::GetJobRequest*, v1::Job*) {
  return Unimplemented("quantface.v1.QuantizationService/GetJob");
}

grpc::Status QuantizationService::ListJobs(grpc::ServerContext*, const v1::ListJobsRequest*,
                                           v1::ListJobsResponse*) {
  return Unimplemented("quantface.v1.QuantizationService/ListJobs");
}

grpc::Status QuantizationService::CancelJob(grpc::ServerContext*, const v1::CancelJobRequest*,
                                            v1::Job*) {
  return Unimplemented("quantface.v1.QuantizationService/CancelJob");
}

grpc::Status QuantizationService::WatchJob(grpc::ServerContext*, const v1::WatchJobRequest*,
                                           grpc::ServerWriter<v1::JobEvent>*) {
  return Unimplemented("quantface.v1.QuantizationService/WatchJob");
}

}  // namespace qf::server
