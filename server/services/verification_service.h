// VerificationService: embeddings and 1:1 Match over the models of a
// ModelHub. Identify (1:N) needs galleries and answers UNIMPLEMENTED until
// they land.
//
// Match decides at the threshold that the model's evaluation measured for the
// requested false-accept rate (default 1e-3), or at the client's explicit
// threshold; it never falls back to a constant. Batch calls report a status
// per item and fail as a whole only for a bad request (too many items, unknown
// model).
#ifndef QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_

#include <grpcpp/grpcpp.h>
#include <prometheus/counter.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include "core/image/decoder.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "server/model_hub.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class VerificationService final : public v1::VerificationService::Service {
 public:
  VerificationService(ModelHub& models, int max_batch_items, prometheus::Registry& registry);

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
  absl::Status MatchOne(const v1::MatchRequest& request, v1::MatchResponse& response);

  ModelHub& models_;
  const int max_batch_items_;
  const image::Decoder decoder_;
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& scores_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
