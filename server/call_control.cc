#include "server/call_control.h"

namespace qf::server {

CallControl ControlOf(const grpc::ServerContext& context) {
  CallControl control;
  const auto deadline = context.deadline();
  const auto system_now = std::chrono::system_clock::now();
  // No deadline reads as time_point::max(); so does anything beyond a day,
  // which spares the clock conversion an overflow.
  if (deadline != std::chrono::system_clock::time_point::max() &&
      deadline - system_now < std::chrono::hours(24)) {
    control.deadline =
        std::chrono::steady_clock::now() +
        std::chrono::duration_cast<std::chrono::steady_clock::duration>(deadline - system_now);
  }
  control.cancelled = [&context] { return context.IsCancelled(); };
  return control;
}

}  // namespace qf::server
