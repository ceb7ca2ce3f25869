// Resource names of galleries and identities, and their proto forms.
//
//   galleries/{gallery}                         -> gallery id
//   galleries/{gallery}/identities/{identity}   -> (gallery id, identity id)
// Malformed names are INVALID_ARGUMENT naming the field.
#ifndef QUANTFACE_SERVER_GALLERY_NAMES_H_
#define QUANTFACE_SERVER_GALLERY_NAMES_H_

#include <string>
#include <utility>

#include "absl/status/statusor.h"
#include "core/gallery/gallery_records.h"
#include "quantface/v1/gallery.pb.h"

namespace qf::server {

absl::StatusOr<std::string> ParseGalleryName(const std::string& name, const std::string& field);
absl::StatusOr<std::pair<std::string, std::string>> ParseIdentityName(const std::string& name,
                                                                      const std::string& field);

void ToProto(const gallery::GalleryRecord& record, quantface::v1::Gallery& out);
void ToProto(const std::string& gallery_id, const gallery::IdentityRecord& record,
             quantface::v1::Identity& out);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_GALLERY_NAMES_H_
