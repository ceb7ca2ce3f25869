#include "server/services/verification_service.h"

#include "server/grpc_status.h"

namespace qf::server {

grpc::Status VerificationService::Embed(grpc::ServerContext*, const v1::EmbedRequest*,
                                        v1::EmbedResponse*) {
  return Unimplemented("quantface.v1.VerificationService/Embed");
}

grpc::Status VerificationService::BatchEmbed(grpc::ServerContext*, const v1::BatchEmbedRequest*,
                                             v1::BatchEmbedResponse*) {
  return Unimplemented("quantface.v1.VerificationService/BatchEmbed");
}

grpc::Status VerificationService::Match(grpc::ServerContext*, const v1::MatchRequest*,
                                        v1::MatchResponse*) {
  return Unimplemented("quantface.v1.VerificationService/Match");
}

grpc::Status VerificationService::BatchMatch(grpc::ServerContext*, const v1::BatchMatchRequest*,
                                             v1::BatchMatchResponse*) {
  return Unimplemented("quantface.v1.VerificationService/BatchMatch");
}

grpc::Status VerificationService::Identify(grpc::ServerContext*, const v1::IdentifyRequest*,
                                           v1::IdentifyResponse*) {
  return Unimplemented("quantface.v1.VerificationService/Identify");
}

grpc::Status VerificationService::BatchIdentify(grpc::ServerContext*,
                                                const v1::BatchIdentifyRequest*,
                                                v1::BatchIdentifyResponse*) {
  return Unimplemented("quantface.v1.VerificationService/BatchIdentify");
}

}  // namespace qf::server
