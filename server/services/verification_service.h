// VerificationService: embeddings, 1:1 Match and 1:N Identify over the models
// of a ModelHub and the galleries of gallery::Galleries.
//
// Match and Identify decide at the threshold that the model's evaluation
// measured for the requested false-accept rate (default 1e-3), or at the
// client's explicit threshold; never a constant (server/decision_policy.h).
// Match with flip_average embeds both faces mirror-averaged and takes a
// FAR's threshold from an evaluation measured that way.
// Match against an enrolled identity scores the probe against each of the
// identity's templates; each template is held to the threshold of its own
// kind of score (the gallery model's own, or for a template embedded by the
// teacher or student it was switched from, the one measured across the
// two), and the template furthest above its threshold decides. Identify
// embeds the probe with the gallery's model, returns the top-k identities
// (each decided the same way, best margin first) at or above their
// threshold (open-set rejection), optionally only those whose metadata
// holds every filter pair. Batch calls report a status per item and
// fail as a whole only for a bad request (too many items, unknown gallery).
#ifndef QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/gallery/galleries.h"
#include "core/image/decoder.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "server/decision_policy.h"
#include "server/metrics/gallery_metrics.h"
#include "server/model_hub.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class VerificationService final : public v1::VerificationService::Service {
 public:
  VerificationService(ModelHub& models, gallery::Galleries& galleries,
                      GalleryMetrics& gallery_metrics, int max_batch_items,
                      prometheus::Registry& registry);

  grpc::Status Embed(grpc::ServerContext* context, const v1::EmbedRequest* request,
                     v1::EmbedResponse* response) override;
  grpc::Status BatchEmbed(grpc::ServerContext* context, const v1::BatchEmbedRequest* request,
                          v1::BatchEmbedResponse* response) override;
  grpc::Status Match(grpc::ServerContext* context, const v1::MatchRequest* request,
                     v1::MatchResponse* response) override;
  grpc::Status BatchMatch(grpc::ServerContext* context, const v1::BatchMatchRequest* request,
                          v1::BatchMatchResponse* response) override;
  grpc::Status Identify(grpc::ServerContext* context, const v1::IdentifyRequest* request,
                        v1::IdentifyResponse* response) override;
  grpc::Status BatchIdentify(grpc::ServerContext* context, const v1::BatchIdentifyRequest* request,
                             v1::BatchIdentifyResponse* response) override;

 private:
  absl::Status MatchOne(const v1::MatchRequest& request, v1::MatchResponse& response,
                        const CallControl& control);
  absl::Status MatchIdentity(const v1::MatchRequest& request, v1::MatchResponse& response,
                             const CallControl& control);
  // Fills a Match reply and records its decision and score metrics.
  void Answer(const std::string& model, float score, bool is_match, const Decision& decision,
              v1::MatchResponse& response);
  // Identifies each probe; `statuses` and `responses` get one entry per probe.
  absl::Status IdentifyProbes(grpc::ServerContext& context, const std::string& gallery,
                              const std::vector<const v1::FaceInput*>& probes, int top_k,
                              const v1::DecisionPolicy& policy,
                              const google::protobuf::Map<std::string, std::string>& filter,
                              std::vector<absl::Status>& statuses,
                              std::vector<v1::IdentifyResponse>& responses);

  ModelHub& models_;
  gallery::Galleries& galleries_;
  GalleryMetrics& gallery_metrics_;
  const int max_batch_items_;
  const image::Decoder decoder_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& scores_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
