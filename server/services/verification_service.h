// VerificationService: Embeddings, 1:1 Match and 1:N Identify.
//
// Translates protos to core calls; holds no numerics. RPCs that later issues
// implement answer UNIMPLEMENTED with a message naming the RPC, never a silent
// success.
#ifndef QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "quantface/v1/verification.grpc.pb.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class VerificationService final : public v1::VerificationService::Service {
 public:
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
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_VERIFICATION_SERVICE_H_
