// Plain records of the gallery store: what a gallery, an identity and a
// template are, independent of SQL and of protos.
#ifndef QUANTFACE_CORE_GALLERY_GALLERY_RECORDS_H_
#define QUANTFACE_CORE_GALLERY_GALLERY_RECORDS_H_

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace qf::gallery {

using Metadata = std::map<std::string, std::string>;

struct GalleryRecord {
  std::string gallery_id;  // e.g. "staff"; the resource name is galleries/<id>
  std::string display_name;
  std::string model;  // resource name of the model, e.g. "models/dlib-resnet"
  int dimension = 0;  // length of every template
  // Templates and probes are mirror-averaged embeddings (the face and its
  // mirror image embedded, summed, normalized); set at creation, fixed.
  bool flip_average = false;
  int64_t create_time_ms = 0;
  int64_t identity_count = 0;
  int64_t template_count = 0;
};

struct IdentityRecord {
  int64_t identity_key = 0;  // store-wide unique, stable
  std::string identity_id;   // the client's id, unique in its gallery
  std::string display_name;
  Metadata metadata;
  int64_t create_time_ms = 0;
  int32_t template_count = 0;
};

struct TemplateRecord {
  int64_t template_id = 0;  // store-wide unique, stable: the search index id
  int64_t identity_key = 0;
  std::vector<float> embedding;
  // Resource name of the model that embedded it: the gallery's model when it
  // was enrolled, which a switched gallery no longer is.
  std::string model;
};

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_GALLERY_RECORDS_H_
