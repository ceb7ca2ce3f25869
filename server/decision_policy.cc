#include "server/decision_policy.h"

#include <cmath>

#include "absl/strings/str_cat.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

namespace {

absl::StatusOr<double> TargetFar(const v1::DecisionPolicy& policy) {
  const double target = policy.policy_case() == v1::DecisionPolicy::kFalseAcceptRate
                            ? policy.false_accept_rate()
                            : kDefaultFalseAcceptRate;
  if (!(target > 0 && target < 1)) {
    return absl::InvalidArgumentError("decision.false_accept_rate must be in (0, 1)");
  }
  return target;
}

absl::StatusOr<Decision> AtFar(const match::OperatingPoints& points, double target) {
  auto point = points.ForFar(target);
  if (!point.ok()) return point.status();
  return Decision{point->threshold, point->far_target};
}

}  // namespace

absl::StatusOr<Decision> ResolveDecision(const v1::DecisionPolicy& policy, const ModelHub& models,
                                         const std::string& model_id, bool flip_average) {
  if (policy.policy_case() == v1::DecisionPolicy::kThreshold) {
    if (!std::isfinite(policy.threshold())) {
      return absl::InvalidArgumentError("decision.threshold is not finite");
    }
    return Decision{policy.threshold(), 0};
  }
  auto target = TargetFar(policy);
  if (!target.ok()) return target.status();
  auto points = models.OperatingPointsFor(model_id, flip_average);
  if (!points.ok()) return points.status();
  return AtFar(*points, *target);
}

absl::StatusOr<std::map<std::string, Decision>> ResolveTemplateDecisions(
    const v1::DecisionPolicy& policy, const ModelHub& models, const std::string& probe_model_id,
    const std::vector<std::string>& template_models, bool flip_average) {
  std::map<std::string, Decision> decisions;
  const std::string probe_model = ModelHub::ResourceName(probe_model_id);
  auto own = ResolveDecision(policy, models, probe_model_id, flip_average);
  if (!own.ok()) return own.status();
  decisions[probe_model] = *own;
  const bool explicit_threshold = policy.policy_case() == v1::DecisionPolicy::kThreshold;
  const double target = own->false_accept_rate;  // As resolved for the probe's model.
  for (const std::string& model : template_models) {
    if (model == probe_model) continue;
    if (explicit_threshold) {
      decisions[model] = *own;
      continue;
    }
    auto template_id = models.Resolve(model);
    if (!template_id.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("the gallery holds templates of ", model,
                       ", no longer registered, so no threshold compares them with probes of ",
                       probe_model, ": ", template_id.status().message()));
    }
    auto points = models.CrossOperatingPointsFor(probe_model_id, *template_id, flip_average);
    if (!points.ok()) return points.status();
    auto decision = AtFar(*points, target);
    if (!decision.ok()) {
      return absl::Status(decision.status().code(),
                          absl::StrCat("templates of ", model, " against probes of ", probe_model,
                                       ": ", decision.status().message()));
    }
    decisions[model] = *decision;
  }
  return decisions;
}

}  // namespace qf::server
