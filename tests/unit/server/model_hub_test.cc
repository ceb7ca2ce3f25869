#include "server/model_hub.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "tests/unit/server_store/temp_dir.h"
#include "tests/unit/server_store/test_builtins.h"

namespace qf::server {
namespace {

// Describes any uploaded file as a student whose teacher is the file's
// content ("models/<id>"), so a test makes a student of any model it likes.
absl::Status TeacherFromContent(v1::ModelFormat, const std::string&, const std::string& path,
                                v1::Model* model) {
  std::ifstream in(path);
  std::string teacher;
  std::getline(in, teacher);
  model->set_architecture("dlib-resnet");
  model->set_weight_bits(4);
  model->set_activation_bits(4);
  model->set_teacher_model(teacher);
  return absl::OkStatus();
}

class ModelHubTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto registry = ModelRegistry::Open(dir_.Sub("registry"), TeacherFromContent);
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    testing::RegisterTestBuiltins(*registry_);
  }

  void AddStudent(const std::string& id, const std::string& teacher) {
    auto writer = registry_->NewUpload();
    ASSERT_TRUE(writer.ok()) << writer.status();
    ASSERT_TRUE((*writer)->Append(teacher).ok());
    NewModel request;
    request.id = id;
    request.format = v1::MODEL_FORMAT_PACKED_QUANTIZED;
    auto added = registry_->AddModel(request, **writer);
    ASSERT_TRUE(added.ok()) << added.status();
    ASSERT_EQ(added->teacher_model(), teacher);
  }

  // The resource name of StudentOfPair's entry.
  std::optional<std::string> StudentName(const std::string& a, const std::string& b) const {
    auto student = hub_.StudentOfPair(a, b);
    if (!student) return std::nullopt;
    return student->name();
  }

  testing::TempDir dir_;
  std::unique_ptr<ModelRegistry> registry_;
  ModelHub hub_{dir_.Sub("assets"), dir_.Sub("evaluations"), "dlib-resnet", nullptr};
};

TEST_F(ModelHubTest, StudentOfPairNamesTheModelDistilledFromTheOther) {
  EXPECT_EQ(StudentName("models/student", "models/dlib-resnet"), std::nullopt)
      << "no registry: no model is known to be distilled from another";
  hub_.AttachRegistry(registry_.get(), /*int8_engine=*/true);
  AddStudent("student", "models/dlib-resnet");
  AddStudent("grand-student", "models/student");

  EXPECT_EQ(StudentName("models/student", "models/dlib-resnet"), "models/student");
  EXPECT_EQ(StudentName("models/dlib-resnet", "models/student"), "models/student");
  EXPECT_EQ(StudentName("models/grand-student", "models/student"), "models/grand-student");
  // Only direct distillation counts: the thresholds measured across a pair
  // are the student's evaluation against its own teacher.
  EXPECT_EQ(StudentName("models/grand-student", "models/dlib-resnet"), std::nullopt);
  EXPECT_EQ(StudentName("models/faceres", "models/student"), std::nullopt);
  EXPECT_EQ(StudentName("models/dlib-resnet", "models/faceres"), std::nullopt);
  EXPECT_EQ(StudentName("models/deleted", "models/dlib-resnet"), std::nullopt);
}

TEST_F(ModelHubTest, CrossThresholdsNeedARelatedPairAndAnEvaluationOfIt) {
  hub_.AttachRegistry(registry_.get(), /*int8_engine=*/true);
  AddStudent("student", "models/dlib-resnet");

  auto unrelated = hub_.CrossOperatingPointsFor("faceres", "dlib-resnet");
  EXPECT_EQ(unrelated.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(unrelated.status().message().find("neither was distilled from the other"),
            std::string::npos)
      << unrelated.status();

  // Either side may be the student; the message names the command that
  // measures the pair, with the teacher.
  for (const auto& [probe, enrolled] :
       {std::pair<std::string, std::string>{"student", "dlib-resnet"},
        {"dlib-resnet", "student"}}) {
    auto unmeasured = hub_.CrossOperatingPointsFor(probe, enrolled);
    EXPECT_EQ(unmeasured.status().code(), absl::StatusCode::kFailedPrecondition);
    EXPECT_NE(unmeasured.status().message().find("--teacher dlib-resnet"), std::string::npos)
        << unmeasured.status();
    EXPECT_NE(unmeasured.status().message().find("evaluations/student.json"), std::string::npos)
        << unmeasured.status();
  }
}

// A gallery of mirror-averaged embeddings takes its cross-model thresholds
// from the student's report of mirror-averaged embeddings, and a plain one
// never does.
TEST_F(ModelHubTest, MirrorAveragedCrossThresholdsComeFromTheFlipReport) {
  hub_.AttachRegistry(registry_.get(), /*int8_engine=*/true);
  AddStudent("student", "models/dlib-resnet");
  std::filesystem::create_directories(dir_.Sub("evaluations/flip"));
  std::ofstream(dir_.Sub("evaluations/flip/student.json")) << R"({"flip": true,
      "metrics": {"tar_at_far": [{"far_target": 0.001, "far": 0.001, "tar": 0.9,
                                  "threshold": 0.93, "measurable": true}]},
      "cross_teacher_student": {"metrics": {"tar_at_far": [{"far_target": 0.001, "far": 0.001,
                                  "tar": 0.88, "threshold": 0.91, "measurable": true}]}}})";
  auto mirrored = hub_.CrossOperatingPointsFor("student", "dlib-resnet", /*flip_average=*/true);
  ASSERT_TRUE(mirrored.ok()) << mirrored.status();
  EXPECT_FLOAT_EQ(mirrored->ForFar(1e-3)->threshold, 0.91f);

  auto plain = hub_.CrossOperatingPointsFor("student", "dlib-resnet", /*flip_average=*/false);
  EXPECT_EQ(plain.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(plain.status().message().find("--flip"), std::string::npos) << plain.status();

  std::filesystem::remove(dir_.Sub("evaluations/flip/student.json"));
  auto missing = hub_.CrossOperatingPointsFor("dlib-resnet", "student", /*flip_average=*/true);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(missing.status().message().find("--flip --report " +
                                            dir_.Sub("evaluations/flip/student.json")),
            std::string::npos)
      << missing.status();
}

}  // namespace
}  // namespace qf::server
