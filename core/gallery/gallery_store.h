// GalleryStore: the durable truth about galleries, identities and templates,
// in one SQLite database (WAL journal, synchronous=FULL, foreign keys on).
//
// Contract:
// - Every mutating call is one transaction, committed before it returns: an
//   acknowledged Enroll survives kill -9 and power loss.
// - Templates are stored as little-endian float32 blobs, L2-normalized by the
//   store, and must have the gallery's dimension (INVALID_ARGUMENT otherwise).
//   Images are never stored. Each template records the model that embedded
//   it (the gallery's model at enrolment), so a gallery switched to another
//   model still knows which of its templates came from the previous one.
// - Databases written before templates recorded their model are migrated at
//   Open(): their templates take their gallery's model of that moment (the
//   only record there is; a gallery switched before the upgrade cannot tell
//   its templates apart).
// - Unknown gallery / identity: NOT_FOUND; creating an existing gallery:
//   ALREADY_EXISTS; malformed ids: INVALID_ARGUMENT naming the field.
// - Thread-safe: one connection, calls serialized by a mutex (one writer).
#ifndef QUANTFACE_CORE_GALLERY_GALLERY_STORE_H_
#define QUANTFACE_CORE_GALLERY_GALLERY_STORE_H_

#include <sqlite3.h>

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/gallery/gallery_records.h"

namespace qf::gallery {

// One identity's part of an enrolment.
struct EnrollItem {
  std::string identity_id;
  std::string display_name;  // empty keeps the current one
  Metadata metadata;         // merged into the identity's
  std::vector<std::vector<float>> embeddings;
  // The model that embedded them, a resource name; empty means the gallery's
  // model. ABORTED when it is not the gallery's model at commit: the gallery
  // was switched while the faces were embedded.
  std::string model;
};

struct EnrollResult {
  IdentityRecord identity;                     // after the enrolment
  std::vector<int64_t> template_ids;           // of the templates added, in order
  std::vector<std::vector<float>> normalized;  // the stored (normalized) templates
  std::string model;                           // that embedded them
};

class GalleryStore {
 public:
  // Opens or creates the database at `path` (its directory must exist).
  static absl::StatusOr<std::unique_ptr<GalleryStore>> Open(const std::string& path);
  ~GalleryStore();
  GalleryStore(const GalleryStore&) = delete;
  GalleryStore& operator=(const GalleryStore&) = delete;

  // `gallery.create_time_ms` 0 means now; counts are ignored.
  absl::StatusOr<GalleryRecord> CreateGallery(GalleryRecord gallery);
  absl::StatusOr<GalleryRecord> GetGallery(const std::string& gallery_id) const;
  // Galleries with id > `after`, in id order, at most `limit`.
  absl::StatusOr<std::vector<GalleryRecord>> ListGalleries(const std::string& after,
                                                           int limit) const;
  absl::Status DeleteGallery(const std::string& gallery_id);
  // Binds the gallery to `model` (a resource name), keeping its templates.
  // The caller has checked that the templates stay comparable.
  absl::StatusOr<GalleryRecord> SetGalleryModel(const std::string& gallery_id,
                                                const std::string& model);
  // Gallery ids bound to `model` (a resource name) or holding templates it
  // embedded, e.g. to refuse deleting it: a switched gallery still compares
  // its previous model's templates at thresholds that model's entry holds.
  absl::StatusOr<std::vector<std::string>> GalleriesUsingModel(const std::string& model) const;

  // All items in one transaction: all stored or none.
  absl::StatusOr<std::vector<EnrollResult>> Enroll(const std::string& gallery_id,
                                                   const std::vector<EnrollItem>& items);
  // Returns the ids of the templates removed with the identity.
  absl::StatusOr<std::vector<int64_t>> RemoveIdentity(const std::string& gallery_id,
                                                      const std::string& identity_id);
  absl::StatusOr<IdentityRecord> GetIdentity(const std::string& gallery_id,
                                             const std::string& identity_id) const;
  // Identities with identity_id > `after`, in id order, at most `limit`.
  absl::StatusOr<std::vector<IdentityRecord>> ListIdentities(const std::string& gallery_id,
                                                             const std::string& after,
                                                             int limit) const;
  absl::StatusOr<std::vector<TemplateRecord>> IdentityTemplates(
      const std::string& gallery_id, const std::string& identity_id) const;

  // Every identity (without template counts) and every template of a gallery,
  // for building its search index.
  absl::Status ForEachIdentity(const std::string& gallery_id,
                               const std::function<void(IdentityRecord)>& visit) const;
  absl::Status ForEachTemplate(const std::string& gallery_id,
                               const std::function<void(TemplateRecord)>& visit) const;

 private:
  explicit GalleryStore(sqlite3* db) : db_(db) {}
  absl::StatusOr<GalleryRecord> GetGalleryLocked(const std::string& gallery_id) const;
  absl::StatusOr<IdentityRecord> GetIdentityLocked(const std::string& gallery_id,
                                                   const std::string& identity_id) const;
  struct EnrollStatements;  // prepared once per Enroll call
  absl::StatusOr<EnrollResult> EnrollOneLocked(const GalleryRecord& gallery, const EnrollItem& item,
                                               int64_t now_ms, EnrollStatements& statements);

  sqlite3* db_;
  mutable std::mutex mutex_;
};

// Letters, digits, '-' and '_', 1..63 characters.
absl::Status ValidateGalleryId(const std::string& gallery_id);
// 1..128 printable characters without '/'.
absl::Status ValidateIdentityId(const std::string& identity_id);

}  // namespace qf::gallery

#endif  // QUANTFACE_CORE_GALLERY_GALLERY_STORE_H_
