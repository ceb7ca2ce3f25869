// GalleryService: Galleries of enrolled identities.
//
// Translates protos to core calls; holds no numerics. RPCs that later issues
// implement answer UNIMPLEMENTED with a message naming the RPC, never a silent
// success.
#ifndef QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_
#define QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_

#include <grpcpp/grpcpp.h>

#include "quantface/v1/gallery.grpc.pb.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

class GalleryService final : public v1::GalleryService::Service {
 public:
  grpc::Status CreateGallery(grpc::ServerContext* context, const v1::CreateGalleryRequest* request,
                             v1::Gallery* response) override;
  grpc::Status GetGallery(grpc::ServerContext* context, const v1::GetGalleryRequest* request,
                          v1::Gallery* response) override;
  grpc::Status ListGalleries(grpc::ServerContext* context, const v1::ListGalleriesRequest* request,
                             v1::ListGalleriesResponse* response) override;
  grpc::Status DeleteGallery(grpc::ServerContext* context, const v1::DeleteGalleryRequest* request,
                             google::protobuf::Empty* response) override;
  grpc::Status Enroll(grpc::ServerContext* context, const v1::EnrollRequest* request,
                      v1::EnrollResponse* response) override;
  grpc::Status RemoveIdentity(grpc::ServerContext* context,
                              const v1::RemoveIdentityRequest* request,
                              google::protobuf::Empty* response) override;
  grpc::Status ListIdentities(grpc::ServerContext* context,
                              const v1::ListIdentitiesRequest* request,
                              v1::ListIdentitiesResponse* response) override;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_SERVICES_GALLERY_SERVICE_H_
