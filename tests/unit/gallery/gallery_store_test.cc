#include "core/gallery/gallery_store.h"

#include <gtest/gtest.h>

#include <sqlite3.h>

#include <cmath>

#include "tests/unit/gallery/temp_db.h"

namespace qf::gallery {
namespace {

GalleryRecord Staff(int dimension = 4) {
  GalleryRecord gallery;
  gallery.gallery_id = "staff";
  gallery.display_name = "Staff";
  gallery.model = "models/dlib-resnet";
  gallery.dimension = dimension;
  return gallery;
}

EnrollItem Item(const std::string& id, std::vector<std::vector<float>> embeddings,
                Metadata metadata = {}) {
  EnrollItem item;
  item.identity_id = id;
  item.display_name = "Person " + id;
  item.metadata = std::move(metadata);
  item.embeddings = std::move(embeddings);
  return item;
}

TEST(GalleryStoreTest, CreateGetListDelete) {
  testing::TempDb db;
  auto store = GalleryStore::Open(db.path());
  ASSERT_TRUE(store.ok()) << store.status();
  auto created = (*store)->CreateGallery(Staff());
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_GT(created->create_time_ms, 0);
  EXPECT_EQ((*store)->CreateGallery(Staff()).status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_FALSE(created->flip_average);
  GalleryRecord other = Staff();
  other.gallery_id = "visitors";
  other.model = "models/faceres";
  other.flip_average = true;
  ASSERT_TRUE((*store)->CreateGallery(other).ok());
  EXPECT_TRUE((*store)->GetGallery("visitors")->flip_average);
  EXPECT_FALSE((*store)->GetGallery("staff")->flip_average);

  auto page = (*store)->ListGalleries("", 1);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].gallery_id, "staff");
  page = (*store)->ListGalleries("staff", 10);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].gallery_id, "visitors");

  EXPECT_EQ(*(*store)->GalleriesUsingModel("models/dlib-resnet"),
            std::vector<std::string>{"staff"});
  EXPECT_TRUE((*store)->GalleriesUsingModel("models/mobileface")->empty());

  ASSERT_TRUE((*store)->DeleteGallery("staff").ok());
  EXPECT_EQ((*store)->GetGallery("staff").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ((*store)->DeleteGallery("staff").code(), absl::StatusCode::kNotFound);
}

TEST(GalleryStoreTest, RejectsMalformedIds) {
  testing::TempDb db;
  auto store = *GalleryStore::Open(db.path());
  GalleryRecord bad = Staff();
  bad.gallery_id = "has/slash";
  EXPECT_EQ(store->CreateGallery(bad).status().code(), absl::StatusCode::kInvalidArgument);
  bad.gallery_id = std::string(64, 'a');
  EXPECT_EQ(store->CreateGallery(bad).status().code(), absl::StatusCode::kInvalidArgument);
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  EXPECT_EQ(store->Enroll("staff", {Item("", {{1, 0, 0, 0}})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Enroll("staff", {Item("a/b", {{1, 0, 0, 0}})}).status().code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(GalleryStoreTest, EnrollNormalizesChecksDimensionAndMergesMetadata) {
  testing::TempDb db;
  auto store = *GalleryStore::Open(db.path());
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  auto first = store->Enroll("staff", {Item("alice", {{3, 4, 0, 0}}, {{"site", "paris"}})});
  ASSERT_TRUE(first.ok()) << first.status();
  ASSERT_EQ((*first)[0].template_ids.size(), 1u);
  EXPECT_FLOAT_EQ((*first)[0].normalized[0][0], 0.6f);
  EXPECT_FLOAT_EQ((*first)[0].normalized[0][1], 0.8f);
  EXPECT_EQ((*first)[0].identity.template_count, 1);

  EnrollItem more = Item("alice", {{0, 0, 1, 0}, {0, 0, 0, 2}}, {{"team", "red"}});
  more.display_name.clear();  // keeps "Person alice"
  auto second = store->Enroll("staff", {more});
  ASSERT_TRUE(second.ok());
  const IdentityRecord& alice = (*second)[0].identity;
  EXPECT_EQ(alice.template_count, 3);
  EXPECT_EQ(alice.display_name, "Person alice");
  EXPECT_EQ(alice.metadata, (Metadata{{"site", "paris"}, {"team", "red"}}));

  EXPECT_EQ(store->Enroll("staff", {Item("bob", {{1, 0, 0}})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Enroll("staff", {Item("bob", {{0, 0, 0, 0}})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Enroll("staff", {Item("bob", {{NAN, 0, 0, 0}})}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->Enroll("nobody", {Item("bob", {{1, 0, 0, 0}})}).status().code(),
            absl::StatusCode::kNotFound);

  auto gallery = store->GetGallery("staff");
  EXPECT_EQ(gallery->identity_count, 1);
  EXPECT_EQ(gallery->template_count, 3);
}

TEST(GalleryStoreTest, FailedEnrollOfABatchStoresNothing) {
  testing::TempDb db;
  auto store = *GalleryStore::Open(db.path());
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  auto result = store->Enroll("staff", {Item("alice", {{1, 0, 0, 0}}), Item("bob", {{1, 0}})});
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(store->GetGallery("staff")->identity_count, 0);
  EXPECT_EQ(store->GetIdentity("staff", "alice").status().code(), absl::StatusCode::kNotFound);
}

TEST(GalleryStoreTest, RemoveIdentityAndListPages) {
  testing::TempDb db;
  auto store = *GalleryStore::Open(db.path());
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  for (const char* id : {"c", "a", "b"}) {
    ASSERT_TRUE(store->Enroll("staff", {Item(id, {{1, 0, 0, 0}, {0, 1, 0, 0}})}).ok());
  }
  auto page = store->ListIdentities("staff", "", 2);
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->size(), 2u);
  EXPECT_EQ((*page)[0].identity_id, "a");
  EXPECT_EQ((*page)[1].identity_id, "b");
  EXPECT_EQ((*page)[1].template_count, 2);
  page = store->ListIdentities("staff", "b", 2);
  ASSERT_EQ(page->size(), 1u);
  EXPECT_EQ((*page)[0].identity_id, "c");

  auto removed = store->RemoveIdentity("staff", "b");
  ASSERT_TRUE(removed.ok());
  EXPECT_EQ(removed->size(), 2u);
  EXPECT_EQ(store->RemoveIdentity("staff", "b").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(store->GetGallery("staff")->template_count, 4);
  EXPECT_EQ(store->ListIdentities("nobody", "", 2).status().code(), absl::StatusCode::kNotFound);
}

TEST(GalleryStoreTest, ReopenKeepsEverythingAndDeleteCascades) {
  testing::TempDb db;
  int64_t template_id = 0;
  {
    auto store = *GalleryStore::Open(db.path());
    ASSERT_TRUE(store->CreateGallery(Staff()).ok());
    auto enrolled = store->Enroll("staff", {Item("alice", {{0, 1, 0, 0}}, {{"k", "v"}})});
    ASSERT_TRUE(enrolled.ok());
    template_id = (*enrolled)[0].template_ids[0];
  }
  auto store = *GalleryStore::Open(db.path());
  auto templates = store->IdentityTemplates("staff", "alice");
  ASSERT_TRUE(templates.ok());
  ASSERT_EQ(templates->size(), 1u);
  EXPECT_EQ((*templates)[0].template_id, template_id);
  EXPECT_EQ((*templates)[0].embedding, (std::vector<float>{0, 1, 0, 0}));
  EXPECT_EQ(store->GetIdentity("staff", "alice")->metadata, (Metadata{{"k", "v"}}));

  ASSERT_TRUE(store->DeleteGallery("staff").ok());
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  EXPECT_EQ(store->GetGallery("staff")->template_count, 0) << "templates must go with the gallery";
}

TEST(GalleryStoreTest, TemplatesRecordTheModelThatEmbeddedThem) {
  testing::TempDb db;
  auto store = *GalleryStore::Open(db.path());
  ASSERT_TRUE(store->CreateGallery(Staff()).ok());
  ASSERT_TRUE(store->Enroll("staff", {Item("alice", {{1, 0, 0, 0}})}).ok());
  ASSERT_TRUE(store->SetGalleryModel("staff", "models/student").ok());
  EnrollItem by_student = Item("alice", {{0, 1, 0, 0}});
  by_student.model = "models/student";
  auto enrolled = store->Enroll("staff", {by_student});
  ASSERT_TRUE(enrolled.ok()) << enrolled.status();
  EXPECT_EQ((*enrolled)[0].model, "models/student");
  // Faces embedded by the model the gallery was switched away from meanwhile.
  EnrollItem stale = Item("bob", {{0, 0, 1, 0}});
  stale.model = "models/dlib-resnet";
  EXPECT_EQ(store->Enroll("staff", {stale}).status().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store->GetIdentity("staff", "bob").status().code(), absl::StatusCode::kNotFound);

  auto templates = *store->IdentityTemplates("staff", "alice");
  ASSERT_EQ(templates.size(), 2u);
  EXPECT_EQ(templates[0].model, "models/dlib-resnet");
  EXPECT_EQ(templates[1].model, "models/student");
  std::vector<std::string> visited;
  ASSERT_TRUE(
      store->ForEachTemplate("staff", [&](TemplateRecord t) { visited.push_back(t.model); }).ok());
  EXPECT_EQ(visited, (std::vector<std::string>{"models/dlib-resnet", "models/student"}));
}

// A database written before templates recorded their model (this schema, as
// the store created it then) opens with each template given its gallery's
// model, and takes new enrolments.
// A database of an older version: no templates.model, no galleries.flip_average.
TEST(GalleryStoreTest, DatabasesWithoutLaterColumnsAreMigratedAtOpen) {
  testing::TempDb db;
  {
    sqlite3* raw = nullptr;
    ASSERT_EQ(sqlite3_open(db.path().c_str(), &raw), SQLITE_OK);
    const float row[4] = {0, 0, 1, 0};
    const std::string blob(reinterpret_cast<const char*>(row), sizeof(row));
    const std::string sql =
        "CREATE TABLE galleries (gallery_id TEXT PRIMARY KEY, display_name TEXT NOT NULL, "
        "model TEXT NOT NULL, dimension INTEGER NOT NULL, create_time_ms INTEGER NOT NULL);"
        "CREATE TABLE identities (identity_key INTEGER PRIMARY KEY, gallery_id TEXT NOT NULL "
        "REFERENCES galleries(gallery_id) ON DELETE CASCADE, identity_id TEXT NOT NULL, "
        "display_name TEXT NOT NULL, metadata_json TEXT NOT NULL, create_time_ms INTEGER NOT "
        "NULL, UNIQUE (gallery_id, identity_id));"
        "CREATE TABLE templates (template_id INTEGER PRIMARY KEY, identity_key INTEGER NOT NULL "
        "REFERENCES identities(identity_key) ON DELETE CASCADE, gallery_id TEXT NOT NULL, "
        "embedding BLOB NOT NULL);"
        "INSERT INTO galleries VALUES ('staff', 'Staff', 'models/faceres', 4, 1);"
        "INSERT INTO identities VALUES (1, 'staff', 'carol', '', '{}', 1);";
    ASSERT_EQ(sqlite3_exec(raw, sql.c_str(), nullptr, nullptr, nullptr), SQLITE_OK);
    sqlite3_stmt* insert = nullptr;
    ASSERT_EQ(sqlite3_prepare_v2(raw, "INSERT INTO templates VALUES (7, 1, 'staff', ?)", -1,
                                 &insert, nullptr),
              SQLITE_OK);
    sqlite3_bind_blob(insert, 1, blob.data(), static_cast<int>(blob.size()), SQLITE_TRANSIENT);
    ASSERT_EQ(sqlite3_step(insert), SQLITE_DONE);
    sqlite3_finalize(insert);
    sqlite3_close(raw);
  }
  auto store = GalleryStore::Open(db.path());
  ASSERT_TRUE(store.ok()) << store.status();
  auto templates = (*store)->IdentityTemplates("staff", "carol");
  ASSERT_TRUE(templates.ok()) << templates.status();
  ASSERT_EQ(templates->size(), 1u);
  EXPECT_EQ((*templates)[0].template_id, 7);
  EXPECT_EQ((*templates)[0].embedding, (std::vector<float>{0, 0, 1, 0}));
  EXPECT_EQ((*templates)[0].model, "models/faceres");
  ASSERT_TRUE((*store)->Enroll("staff", {Item("carol", {{1, 0, 0, 0}})}).ok());
  EXPECT_EQ((*store)->IdentityTemplates("staff", "carol")->back().model, "models/faceres");
  // Its galleries held plain embeddings, the only kind there was.
  EXPECT_FALSE((*store)->GetGallery("staff")->flip_average);
  GalleryRecord mirrored = Staff();
  mirrored.gallery_id = "mirrored";
  mirrored.flip_average = true;
  ASSERT_TRUE((*store)->CreateGallery(mirrored).ok());
  // Opening again finds the columns and changes nothing.
  store->reset();
  store = GalleryStore::Open(db.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*store)->GetGallery("staff")->template_count, 2);
  EXPECT_FALSE((*store)->GetGallery("staff")->flip_average);
  EXPECT_TRUE((*store)->GetGallery("mirrored")->flip_average);
}

}  // namespace
}  // namespace qf::gallery
