#include "server/registry/model_registry.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "core/util/sha256.h"

#include "tests/unit/server_store/temp_dir.h"
#include "tests/unit/server_store/test_builtins.h"

namespace qf::server {
namespace {

// Accepts files that start with "GOOD", describing them as 4-bit students of
// dlib-resnet; rejects everything else like a real inspector would.
absl::Status FakeInspector(v1::ModelFormat format, const std::string&, const std::string& path,
                           v1::Model* model) {
  std::ifstream in(path, std::ios::binary);
  std::string head(4, '\0');
  in.read(head.data(), 4);
  if (format == v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR && head == "GOOD") {
    model->mutable_generator()->set_image_height(64);  // latent_dim arrives filled in.
    return absl::OkStatus();
  }
  if (format != v1::MODEL_FORMAT_PACKED_QUANTIZED || head != "GOOD") {
    return absl::InvalidArgumentError("not a valid packed model file: bad magic");
  }
  model->set_architecture("dlib-resnet");
  model->set_weight_bits(4);
  model->set_activation_bits(4);
  model->set_teacher_model("models/dlib-resnet");
  return absl::OkStatus();
}

int CountBlobs(const std::string& dir) {
  int n = 0;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir + "/blobs")) {
    n += entry.is_regular_file() ? 1 : 0;
  }
  return n;
}

class ModelRegistryTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    registry_.reset();
    auto registry = ModelRegistry::Open(dir_.path(), FakeInspector);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    testing::RegisterTestBuiltins(*registry_);
  }

  absl::StatusOr<v1::Model> Upload(const std::string& id, const std::string& bytes,
                                   const std::string& sha256 = "") {
    auto writer = registry_->NewUpload();
    if (!writer.ok()) return writer.status();
    if (absl::Status s = (*writer)->Append(bytes); !s.ok()) return s;
    NewModel request;
    request.id = id;
    request.format = v1::MODEL_FORMAT_PACKED_QUANTIZED;
    request.expected_size = static_cast<int64_t>(bytes.size());
    request.expected_sha256 = sha256;
    return registry_->AddModel(request, **writer);
  }

  testing::TempDir dir_;
  std::unique_ptr<ModelRegistry> registry_;
};

TEST_F(ModelRegistryTest, UploadedModelIsStoredDescribedAndListedAfterBuiltins) {
  auto model = Upload("student-a", "GOOD model bytes");
  ASSERT_TRUE(model.ok()) << model.status();
  EXPECT_EQ(model->name(), "models/student-a");
  EXPECT_EQ(model->weight_bits(), 4);
  EXPECT_EQ(model->size_bytes(), 16);
  EXPECT_EQ(model->sha256(), Sha256Hex("GOOD model bytes"));
  EXPECT_EQ(*Sha256HexOfFile(*registry_->FilePath("models/student-a")), model->sha256());

  auto page = registry_->List({}, 0, "");
  ASSERT_TRUE(page.ok());
  ASSERT_EQ(page->models.size(), 3u);
  EXPECT_EQ(page->models[0].name(), "models/dlib-resnet");
  EXPECT_TRUE(page->models[0].is_default());
  EXPECT_EQ(page->models[2].name(), "models/student-a");
}

TEST_F(ModelRegistryTest, CorruptUploadIsRejectedAndNothingIsStored) {
  auto model = Upload("bad", "JUNK bytes");
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Get("models/bad").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CountBlobs(dir_.path()), 0);
}

TEST_F(ModelRegistryTest, WrongChecksumIsRejectedAndNothingIsStored) {
  auto model = Upload("student", "GOOD bytes", std::string(64, '0'));
  EXPECT_EQ(model.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(model.status().message().find("sha256"), std::string::npos);
  EXPECT_EQ(registry_->Get("models/student").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(CountBlobs(dir_.path()), 0);
}

TEST_F(ModelRegistryTest, DuplicateAndInvalidIdsAreRefused) {
  ASSERT_TRUE(Upload("student", "GOOD 1").ok());
  EXPECT_EQ(Upload("student", "GOOD 2").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Upload("dlib-resnet", "GOOD 3").status().code(), absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(Upload("Bad Id!", "GOOD 4").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(registry_->Get("student").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelRegistryTest, PaginationAndFilters) {
  for (int i = 0; i < 5; ++i)
    ASSERT_TRUE(Upload("s" + std::to_string(i), "GOOD " + std::to_string(i)).ok());
  std::vector<std::string> names;
  std::string token;
  do {
    auto page = registry_->List({}, 3, token);
    ASSERT_TRUE(page.ok());
    EXPECT_LE(page->models.size(), 3u);
    for (const auto& m : page->models) names.push_back(m.name());
    token = page->next_page_token;
  } while (!token.empty());
  EXPECT_EQ(names.size(), 7u);
  EXPECT_EQ(names.back(), "models/s4");

  ModelListFilter four_bit;
  four_bit.weight_bits = 4;
  EXPECT_EQ(registry_->List(four_bit, 0, "")->models.size(), 5u);
  ModelListFilter faceres;
  faceres.architecture = "faceres";
  EXPECT_EQ(registry_->List(faceres, 0, "")->models.size(), 1u);
  ModelListFilter students;
  students.teacher_model = "models/dlib-resnet";
  EXPECT_EQ(registry_->List(students, 0, "")->models.size(), 5u);
  EXPECT_EQ(registry_->List({}, 0, "x").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ModelRegistryTest, DeleteRulesAndBlobRemoval) {
  ASSERT_TRUE(Upload("student", "GOOD").ok());
  EXPECT_EQ(registry_->Delete("models/dlib-resnet").code(), absl::StatusCode::kFailedPrecondition);
  registry_->AddInUseCheck([](const std::string& name) {
    return name == "models/student" ? std::vector<std::string>{"galleries/g1"}
                                    : std::vector<std::string>{};
  });
  const absl::Status in_use = registry_->Delete("models/student");
  EXPECT_EQ(in_use.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(in_use.message().find("galleries/g1"), std::string::npos);
  EXPECT_EQ(CountBlobs(dir_.path()), 1);

  ASSERT_TRUE(Upload("other", "GOOD other").ok());
  ASSERT_TRUE(registry_->SetDefault("models/other").ok());
  EXPECT_EQ(registry_->Delete("models/other").code(), absl::StatusCode::kFailedPrecondition);
  ASSERT_TRUE(registry_->SetDefault("models/dlib-resnet").ok());
  std::vector<std::string> deleted;
  registry_->AddDeleteListener([&](const std::string& name) { deleted.push_back(name); });
  ASSERT_TRUE(registry_->Delete("models/other").ok());
  EXPECT_EQ(deleted, std::vector<std::string>{"models/other"});
  EXPECT_EQ(CountBlobs(dir_.path()), 1);
  EXPECT_EQ(registry_->Delete("models/other").code(), absl::StatusCode::kNotFound);
}

TEST_F(ModelRegistryTest, DefaultSurvivesReopen) {
  ASSERT_TRUE(Upload("student", "GOOD").ok());
  ASSERT_TRUE(registry_->SetDefault("models/student").ok());
  Reopen();
  EXPECT_EQ(registry_->DefaultName(), "models/student");
  EXPECT_TRUE(registry_->Get("models/student")->is_default());
  EXPECT_EQ(registry_->SetDefault("models/none").status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(registry_->totals().models, 3);
  EXPECT_EQ(registry_->totals().stored_bytes, 4);
}

TEST_F(ModelRegistryTest, BuiltinsHaveNoDownloadableFile) {
  EXPECT_EQ(registry_->FilePath("models/faceres").status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST_F(ModelRegistryTest, ArtifactsAreStoredListedFetchedAndDeletedWithTheModel) {
  auto writer = registry_->NewUpload();
  ASSERT_TRUE(writer.ok());
  ASSERT_TRUE((*writer)->Append("GOOD student").ok());
  NewModel request;
  request.id = "student";
  request.format = v1::MODEL_FORMAT_PACKED_QUANTIZED;
  request.artifacts = {{"roc", "image/png", "png bytes"}, {"log", "text/plain", "phase training"}};
  auto model = registry_->AddModel(request, **writer);
  ASSERT_TRUE(model.ok()) << model.status();
  ASSERT_EQ(model->artifacts_size(), 2);
  EXPECT_EQ(model->artifacts(0).name(), "roc");
  EXPECT_EQ(model->artifacts(0).media_type(), "image/png");
  EXPECT_EQ(model->artifacts(0).sha256(), Sha256Hex("png bytes"));
  EXPECT_EQ(model->artifacts(0).size_bytes(), 9);
  EXPECT_EQ(CountBlobs(dir_.path()), 3);
  Reopen();  // Persisted with the model.
  ASSERT_EQ(registry_->Get("models/student")->artifacts_size(), 2);
  v1::ModelArtifact log;
  auto path = registry_->ArtifactPath("models/student", "log", &log);
  ASSERT_TRUE(path.ok()) << path.status();
  std::ifstream in(*path, std::ios::binary);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "phase training");
  EXPECT_EQ(log.sha256(), Sha256Hex(text));
  const auto missing = registry_->ArtifactPath("models/student", "weights", nullptr);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(missing.status().message().find("roc, log"), std::string::npos) << missing.status();
  ASSERT_TRUE(registry_->Delete("models/student").ok());
  EXPECT_EQ(CountBlobs(dir_.path()), 0);

  // Bad artifact names are refused before anything is stored.
  {
    auto again = registry_->NewUpload();
    ASSERT_TRUE(again.ok());
    ASSERT_TRUE((*again)->Append("GOOD").ok());
    request.artifacts = {{"Bad Name", "text/plain", "x"}};
    EXPECT_EQ(registry_->AddModel(request, **again).status().code(),
              absl::StatusCode::kInvalidArgument);
  }
  EXPECT_EQ(CountBlobs(dir_.path()), 0);
}

TEST_F(ModelRegistryTest, GeneratorsMustBeDeclaredSynthetic) {
  const auto add = [&](bool declared) {
    auto writer = registry_->NewUpload();
    EXPECT_TRUE(writer.ok());
    EXPECT_TRUE((*writer)->Append("GOOD generator").ok());
    NewModel request;
    request.id = "gen";
    request.format = v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR;
    request.latent_dim = 16;
    request.declared_synthetic = declared;
    return registry_->AddModel(request, **writer);
  };
  const auto refused = add(false);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("metadata.declared_synthetic"), std::string::npos);
  EXPECT_EQ(CountBlobs(dir_.path()), 0);
  const auto accepted = add(true);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->architecture(), "generator");
  EXPECT_EQ(accepted->generator().latent_dim(), 16);  // Passed to the inspector.
  EXPECT_EQ(accepted->generator().image_height(), 64);
  EXPECT_TRUE(accepted->generator().declared_synthetic());
}

}  // namespace
}  // namespace qf::server
