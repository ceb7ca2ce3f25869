#include "server/gallery_names.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/gallery/gallery_store.h"

namespace qf::server {
namespace {

void SetTime(int64_t ms, google::protobuf::Timestamp& out) {
  out.set_seconds(ms / 1000);
  out.set_nanos(static_cast<int32_t>((ms % 1000) * 1000000));
}

}  // namespace

absl::StatusOr<std::string> ParseGalleryName(const std::string& name, const std::string& field) {
  if (!absl::StartsWith(name, "galleries/")) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", name, "' is not of the form galleries/{gallery}"));
  }
  std::string id = name.substr(10);
  if (absl::Status status = gallery::ValidateGalleryId(id); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.message()));
  }
  return id;
}

absl::StatusOr<std::pair<std::string, std::string>> ParseIdentityName(const std::string& name,
                                                                      const std::string& field) {
  const std::vector<std::string> parts = absl::StrSplit(name, absl::MaxSplits('/', 3));
  if (parts.size() != 4 || parts[0] != "galleries" || parts[2] != "identities" ||
      parts[3].empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        field, " '", name, "' is not of the form galleries/{gallery}/identities/{identity}"));
  }
  if (absl::Status status = gallery::ValidateGalleryId(parts[1]); !status.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(field, ": ", status.message()));
  }
  return std::make_pair(parts[1], parts[3]);
}

void ToProto(const gallery::GalleryRecord& record, quantface::v1::Gallery& out) {
  out.set_name("galleries/" + record.gallery_id);
  out.set_display_name(record.display_name);
  out.set_model(record.model);
  out.set_identity_count(record.identity_count);
  out.set_template_count(record.template_count);
  SetTime(record.create_time_ms, *out.mutable_create_time());
  out.set_flip_average(record.flip_average);
}

void ToProto(const std::string& gallery_id, const gallery::IdentityRecord& record,
             quantface::v1::Identity& out) {
  out.set_name(absl::StrCat("galleries/", gallery_id, "/identities/", record.identity_id));
  out.set_identity_id(record.identity_id);
  out.set_display_name(record.display_name);
  out.mutable_metadata()->insert(record.metadata.begin(), record.metadata.end());
  out.set_template_count(record.template_count);
  SetTime(record.create_time_ms, *out.mutable_create_time());
}

}  // namespace qf::server
