#include "server/services/gallery_service.h"

#include "server/grpc_status.h"

namespace qf::server {

grpc::Status GalleryService::CreateGallery(grpc::ServerContext*, const v1::CreateGalleryRequest*,
                                           v1::Gallery*) {
  return Unimplemented("quantface.v1.GalleryService/CreateGallery");
}

grpc::Status GalleryService::GetGallery(grpc::ServerContext*, const v1::GetGalleryRequest*,
                                        v1::Gallery*) {
  return Unimplemented("quantface.v1.GalleryService/GetGallery");
}

grpc::Status GalleryService::ListGalleries(grpc::ServerContext*, const v1::ListGalleriesRequest*,
                                           v1::ListGalleriesResponse*) {
  return Unimplemented("quantface.v1.GalleryService/ListGalleries");
}

grpc::Status GalleryService::DeleteGallery(grpc::ServerContext*, const v1::DeleteGalleryRequest*,
                                           google::protobuf::Empty*) {
  return Unimplemented("quantface.v1.GalleryService/DeleteGallery");
}

grpc::Status GalleryService::Enroll(grpc::ServerContext*, const v1::EnrollRequest*,
                                    v1::EnrollResponse*) {
  return Unimplemented("quantface.v1.GalleryService/Enroll");
}

grpc::Status GalleryService::RemoveIdentity(grpc::ServerContext*, const v1::RemoveIdentityRequest*,
                                            google::protobuf::Empty*) {
  return Unimplemented("quantface.v1.GalleryService/RemoveIdentity");
}

grpc::Status GalleryService::ListIdentities(grpc::ServerContext*, const v1::ListIdentitiesRequest*,
                                            v1::ListIdentitiesResponse*) {
  return Unimplemented("quantface.v1.GalleryService/ListIdentities");
}

}  // namespace qf::server
