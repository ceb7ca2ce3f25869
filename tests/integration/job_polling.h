// Polling a job's state over gRPC, for integration tests that run real jobs.
//
// Contract: GetJob() returns the job, or an empty Job after recording a test
// failure when the call fails. WaitForJob() polls every 100 ms until
// `done(job)` holds and returns that job; on timeout it records a test
// failure naming the job and its last state and returns the last job seen.
#ifndef QUANTFACE_TESTS_INTEGRATION_JOB_POLLING_H_
#define QUANTFACE_TESTS_INTEGRATION_JOB_POLLING_H_

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <chrono>
#include <string>
#include <thread>

#include "quantface/v1/quantization.grpc.pb.h"

namespace qf::testing {

inline ::quantface::v1::Job GetJob(::quantface::v1::QuantizationService::Stub& stub,
                                   const std::string& name) {
  ::quantface::v1::GetJobRequest request;
  request.set_name(name);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  ::quantface::v1::Job job;
  const grpc::Status status = stub.GetJob(&context, request, &job);
  EXPECT_TRUE(status.ok()) << name << ": " << status.error_message();
  return job;
}

template <typename Done>
::quantface::v1::Job WaitForJob(::quantface::v1::QuantizationService::Stub& stub,
                                const std::string& name, Done done, int timeout_seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_seconds);
  ::quantface::v1::Job job;
  while (std::chrono::steady_clock::now() < deadline) {
    job = GetJob(stub, name);
    if (done(job)) return job;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  ADD_FAILURE() << "timed out waiting on " << name << " (state "
                << ::quantface::v1::Job::State_Name(job.state()) << ")";
  return job;
}

}  // namespace qf::testing

#endif  // QUANTFACE_TESTS_INTEGRATION_JOB_POLLING_H_
