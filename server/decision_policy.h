// ResolveDecision: the threshold a Match or Identify request decides at, from
// its DecisionPolicy: the client's explicit threshold, or the threshold the
// model's evaluation measured for the requested false-accept rate (default
// 1e-3). Never a built-in constant: without an evaluation report a FAR-based
// request is FAILED_PRECONDITION (ModelHub names the command that makes one).
// With `flip_average` the threshold comes from an evaluation of
// mirror-averaged embeddings, whose scores are not plain embeddings'.
// Scores against a switched gallery's templates of another model have
// thresholds of their own: ResolveTemplateDecisions.
#ifndef QUANTFACE_SERVER_DECISION_POLICY_H_
#define QUANTFACE_SERVER_DECISION_POLICY_H_

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantface/v1/verification.pb.h"
#include "server/model_hub.h"

namespace qf::server {

struct Decision {
  float threshold = 0;
  // The FAR the threshold was measured for; 0 for an explicit threshold.
  double false_accept_rate = 0;
};

inline constexpr double kDefaultFalseAcceptRate = 1e-3;

absl::StatusOr<Decision> ResolveDecision(const quantface::v1::DecisionPolicy& policy,
                                         const ModelHub& models, const std::string& model_id,
                                         bool flip_average = false);

// The decision for each model whose templates a gallery holds, against probes
// embedded by `probe_model_id`: its own (ResolveDecision) for the probe's
// model, the thresholds measured across teacher and student
// (ModelHub::CrossOperatingPointsFor) for a gallery switched between them.
// An explicit threshold applies to every template. Keys are resource names;
// the probe's model is always among them. `flip_average`: the gallery's
// templates and probes are mirror-averaged embeddings, and every threshold
// comes from evaluations of such embeddings.
absl::StatusOr<std::map<std::string, Decision>> ResolveTemplateDecisions(
    const quantface::v1::DecisionPolicy& policy, const ModelHub& models,
    const std::string& probe_model_id, const std::vector<std::string>& template_models,
    bool flip_average);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_DECISION_POLICY_H_
