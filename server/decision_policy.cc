#include "server/decision_policy.h"

#include <cmath>

namespace qf::server {

namespace v1 = ::quantface::v1;

absl::StatusOr<Decision> ResolveDecision(const v1::DecisionPolicy& policy, const ModelHub& models,
                                         const std::string& model_id, bool flip_average) {
  Decision decision;
  if (policy.policy_case() == v1::DecisionPolicy::kThreshold) {
    decision.threshold = policy.threshold();
    if (!std::isfinite(decision.threshold)) {
      return absl::InvalidArgumentError("decision.threshold is not finite");
    }
    return decision;
  }
  const double target = policy.policy_case() == v1::DecisionPolicy::kFalseAcceptRate
                            ? policy.false_accept_rate()
                            : kDefaultFalseAcceptRate;
  if (!(target > 0 && target < 1)) {
    return absl::InvalidArgumentError("decision.false_accept_rate must be in (0, 1)");
  }
  auto points = models.OperatingPointsFor(model_id, flip_average);
  if (!points.ok()) return points.status();
  auto point = points->ForFar(target);
  if (!point.ok()) return point.status();
  decision.threshold = point->threshold;
  decision.false_accept_rate = point->far_target;
  return decision;
}

}  // namespace qf::server
