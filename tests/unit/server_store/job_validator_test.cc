#include "server/jobs/job_validator.h"

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>

#include "tests/unit/server_store/temp_dir.h"

namespace qf::server {
namespace {

class JobValidatorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    // Generators are accepted unseen (their loading is the inspector's
    // business, tested elsewhere); a "packed student" here is a file that
    // holds its teacher's id; nothing else is accepted.
    auto registry = ModelRegistry::Open(
        dir_.path(), [](v1::ModelFormat format, auto&, const std::string& path, v1::Model* model) {
          if (format == v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR) return absl::OkStatus();
          if (format != v1::MODEL_FORMAT_PACKED_QUANTIZED) {
            return absl::InvalidArgumentError("no uploads here");
          }
          std::ifstream in(path);
          std::string teacher;
          std::getline(in, teacher);
          if (!teacher.empty()) model->set_teacher_model("models/" + teacher);
          return absl::OkStatus();
        });
    ASSERT_TRUE(registry.ok());
    registry_ = *std::move(registry);
    for (const char* id : {"dlib-resnet", "faceres", "mobileface"}) {
      v1::Model model;
      model.set_name(std::string("models/") + id);
      ASSERT_TRUE(registry_->RegisterBuiltin(model).ok());
    }
    std::filesystem::create_directories(dir_.Sub("lfw"));
    std::filesystem::create_directories(dir_.Sub("synthetic"));
    limits_.protocols = {{"lfw", dir_.Sub("lfw")}, {"gone", dir_.Sub("missing")}};
    // The first layers of each (the server lists them all).
    limits_.quantizable_layers = {{"dlib-resnet", {"conv32_down", "conv32_1_conv1"}},
                                  {"faceres", {"conv1", "conv_dw_1"}}};
  }

  // Adds a packed student whose file names `teacher` (empty: none).
  void AddStudent(const std::string& id, const std::string& teacher) {
    auto file = registry_->NewUpload();
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append(teacher + "\n").ok());
    NewModel student;
    student.id = id;
    student.format = v1::MODEL_FORMAT_PACKED_QUANTIZED;
    ASSERT_TRUE(registry_->AddModel(student, **file).ok());
  }

  static v1::JobConfig Valid() {
    v1::JobConfig config;
    config.set_teacher_model("models/dlib-resnet");
    config.set_weight_bits(8);
    config.set_activation_bits(8);
    config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
    return config;
  }

  // The error's code, checking that its message names `field`.
  absl::StatusCode Check(const v1::JobConfig& config, const std::string& field) {
    auto result = ValidateJobConfig(config, *registry_, limits_);
    EXPECT_FALSE(result.ok()) << field;
    EXPECT_NE(result.status().message().find(field), std::string::npos)
        << result.status().message() << " does not name " << field;
    return result.status().code();
  }

  testing::TempDir dir_;
  std::unique_ptr<ModelRegistry> registry_;
  JobLimits limits_;
};

TEST_F(JobValidatorTest, FillsDefaults) {
  auto config = ValidateJobConfig(Valid(), *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->method(), v1::JobConfig::METHOD_QAT);
  EXPECT_EQ(config->weight_scheme(), v1::JobConfig::WEIGHT_SCHEME_AUTO);
  EXPECT_EQ(config->steps(), 600);
  EXPECT_EQ(config->batch_size(), 32);
  EXPECT_EQ(config->activation_warmup_steps(), 50);
  EXPECT_NE(config->synthetic_data().seed(), 0u);
  EXPECT_DOUBLE_EQ(config->optimizer().learning_rate(), 0.1 * 32 / 512);
  EXPECT_DOUBLE_EQ(config->optimizer().momentum(), 0.9);
  EXPECT_EQ(config->optimizer().algorithm(), v1::OptimizerConfig::ALGORITHM_SGD);
  EXPECT_TRUE(config->optimizer().nesterov());
  EXPECT_DOUBLE_EQ(config->optimizer().weight_decay(), 5e-4);
  EXPECT_EQ(config->optimizer().schedule(), v1::OptimizerConfig::SCHEDULE_COSINE);
  EXPECT_EQ(config->device(), v1::DEVICE_PREFERENCE_ANY);
  EXPECT_EQ(config->output_display_name(), "dlib-resnet w8a8 qat");
}

// Defaults go by each field's presence: a config that sets only the
// learning rate (as the CLI does) still gets Nesterov momentum and the
// paper's weight decay, and explicit false and 0 are kept.
TEST_F(JobValidatorTest, OptimizerDefaultsGoByFieldPresence) {
  v1::JobConfig c = Valid();
  c.mutable_optimizer()->set_learning_rate(0.01);
  auto config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->optimizer().nesterov());
  EXPECT_DOUBLE_EQ(config->optimizer().weight_decay(), 5e-4);
  EXPECT_DOUBLE_EQ(config->optimizer().learning_rate(), 0.01);

  c.mutable_optimizer()->set_nesterov(false);
  c.mutable_optimizer()->set_weight_decay(0);
  config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(config->optimizer().has_nesterov());
  EXPECT_FALSE(config->optimizer().nesterov());
  EXPECT_TRUE(config->optimizer().has_weight_decay());
  EXPECT_DOUBLE_EQ(config->optimizer().weight_decay(), 0.0);

  c.mutable_optimizer()->set_weight_decay(1e-3);
  config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->optimizer().weight_decay(), 1e-3);
  c.mutable_optimizer()->set_weight_decay(-1e-4);
  EXPECT_EQ(Check(c, "config.optimizer.weight_decay"), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobValidatorTest, AdamWGetsItsOwnDefaultLearningRate) {
  v1::JobConfig c = Valid();
  c.mutable_optimizer()->set_algorithm(v1::OptimizerConfig::ALGORITHM_ADAMW);
  auto config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->optimizer().algorithm(), v1::OptimizerConfig::ALGORITHM_ADAMW);
  EXPECT_DOUBLE_EQ(config->optimizer().learning_rate(), 1e-4);
  // SGD's settings stay unset: the stored config says what ran.
  EXPECT_DOUBLE_EQ(config->optimizer().momentum(), 0.0);
  EXPECT_FALSE(config->optimizer().has_nesterov());
  c.mutable_optimizer()->set_learning_rate(3e-5);
  config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_DOUBLE_EQ(config->optimizer().learning_rate(), 3e-5);
}

TEST_F(JobValidatorTest, AdamWRefusesSgdOnlySettings) {
  v1::JobConfig c = Valid();
  c.mutable_optimizer()->set_algorithm(v1::OptimizerConfig::ALGORITHM_ADAMW);
  c.mutable_optimizer()->set_momentum(0.95);
  EXPECT_EQ(Check(c, "config.optimizer.momentum"), absl::StatusCode::kInvalidArgument);
  c.mutable_optimizer()->set_momentum(0);
  c.mutable_optimizer()->set_nesterov(true);
  EXPECT_EQ(Check(c, "config.optimizer.nesterov"), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobValidatorTest, InvertedFacesGetTheirDefaultsAndABoundedSpread) {
  v1::JobConfig c = Valid();
  c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_INVERTED_FACES);
  auto config = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->synthetic_data().num_images(), 512);
  EXPECT_EQ(config->synthetic_data().num_identities(), 512);
  EXPECT_DOUBLE_EQ(config->synthetic_data().spread(), 2.0);
  c.mutable_synthetic_data()->set_spread(11);
  EXPECT_EQ(Check(c, "config.synthetic_data.spread"), absl::StatusCode::kInvalidArgument);
  c.mutable_synthetic_data()->set_spread(-1);
  EXPECT_EQ(Check(c, "config.synthetic_data.spread"), absl::StatusCode::kInvalidArgument);
  c.mutable_synthetic_data()->set_spread(3);
  c.mutable_synthetic_data()->set_num_images(64);
  c.mutable_synthetic_data()->set_num_identities(16);
  EXPECT_EQ(Check(c, "config.synthetic_data.num_identities"), absl::StatusCode::kInvalidArgument);
}

TEST_F(JobValidatorTest, EveryKindOfBadConfigNamesItsField) {
  v1::JobConfig c = Valid();
  c.clear_teacher_model();
  EXPECT_EQ(Check(c, "config.teacher_model"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_teacher_model("dlib-resnet");
  EXPECT_EQ(Check(c, "config.teacher_model"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_teacher_model("models/unknown");
  EXPECT_EQ(Check(c, "config.teacher_model"), absl::StatusCode::kNotFound);
  c = Valid();
  c.set_teacher_model("models/mobileface");
  EXPECT_EQ(Check(c, "config.teacher_model"), absl::StatusCode::kFailedPrecondition);
  c = Valid();
  c.set_weight_bits(1);
  EXPECT_EQ(Check(c, "config.weight_bits"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_activation_bits(9);
  EXPECT_EQ(Check(c, "config.activation_bits"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_steps(-1);
  EXPECT_EQ(Check(c, "config.steps"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_steps(limits_.max_steps + 1);
  EXPECT_EQ(Check(c, "config.steps"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_batch_size(100000);
  EXPECT_EQ(Check(c, "config.batch_size"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_steps(10);
  c.set_activation_warmup_steps(11);
  EXPECT_EQ(Check(c, "config.activation_warmup_steps"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_UNSPECIFIED);
  EXPECT_EQ(Check(c, "config.synthetic_data.source"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.mutable_synthetic_data()->set_num_images(-5);
  EXPECT_EQ(Check(c, "config.synthetic_data.num_images"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_IMAGE_FOLDER);
  c.mutable_synthetic_data()->set_image_folder(dir_.Sub("synthetic"));
  EXPECT_EQ(Check(c, "config.synthetic_data.declared_synthetic"),
            absl::StatusCode::kInvalidArgument);
  c.mutable_synthetic_data()->set_declared_synthetic(true);
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.mutable_synthetic_data()->set_image_folder(dir_.Sub("nowhere"));
  EXPECT_EQ(Check(c, "config.synthetic_data.image_folder"), absl::StatusCode::kNotFound);
  c = Valid();
  c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_GENERATOR_MODEL);
  EXPECT_EQ(Check(c, "config.synthetic_data.generator_model"), absl::StatusCode::kInvalidArgument);
  c.mutable_synthetic_data()->set_generator_model("models/gen");
  EXPECT_EQ(Check(c, "config.synthetic_data.generator_model"), absl::StatusCode::kNotFound);
  c.mutable_synthetic_data()->set_generator_model("models/faceres");  // Not a generator.
  EXPECT_EQ(Check(c, "config.synthetic_data.generator_model"),
            absl::StatusCode::kFailedPrecondition);
  {
    auto file = registry_->NewUpload();
    ASSERT_TRUE(file.ok());
    ASSERT_TRUE((*file)->Append("a generator").ok());
    NewModel gen;
    gen.id = "gen";
    gen.format = v1::MODEL_FORMAT_TORCHSCRIPT_GENERATOR;
    gen.declared_synthetic = true;
    ASSERT_TRUE(registry_->AddModel(gen, **file).ok());
  }
  c.mutable_synthetic_data()->set_generator_model("models/gen");
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c = Valid();
  c.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_PROCEDURAL_FACES);
  c.set_learn_activation_ranges(true);
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.set_method(v1::JobConfig::METHOD_PTQ);
  EXPECT_EQ(Check(c, "config.learn_activation_ranges"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_activation_ranges(v1::JobConfig::ACTIVATION_RANGES_MSE);
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.set_activation_ranges(static_cast<v1::JobConfig::ActivationRanges>(7));
  EXPECT_EQ(Check(c, "config.activation_ranges"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.add_keep_8bit_layers("conv32_1_conv1");
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.add_keep_8bit_layers("conv_dw_1");  // A faceres layer, not dlib-resnet's.
  EXPECT_EQ(Check(c, "config.keep_8bit_layers"), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(
      ValidateJobConfig(c, *registry_, limits_)
          .status()
          .message()
          .find("no conv/linear layer 'conv_dw_1'; its layers are conv32_down, conv32_1_conv1"),
      std::string::npos);
  c.set_teacher_model("models/faceres");
  EXPECT_EQ(Check(c, "config.keep_8bit_layers"), absl::StatusCode::kInvalidArgument);
  c.clear_keep_8bit_layers();
  c.add_keep_8bit_layers("conv_dw_1");
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c = Valid();
  c.set_weight_scheme(v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC);
  auto asymmetric = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(asymmetric.ok()) << asymmetric.status();
  EXPECT_EQ(asymmetric->weight_scheme(), v1::JobConfig::WEIGHT_SCHEME_ASYMMETRIC);
  c.set_weight_scheme(static_cast<v1::JobConfig::WeightScheme>(7));
  EXPECT_EQ(Check(c, "config.weight_scheme"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_weight_ranges(v1::JobConfig::WEIGHT_RANGES_MSE);
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.set_weight_ranges(static_cast<v1::JobConfig::WeightRanges>(7));
  EXPECT_EQ(Check(c, "config.weight_ranges"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_feature_loss_weight(0.01);
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c.set_feature_loss_weight(-1);
  EXPECT_EQ(Check(c, "config.feature_loss_weight"), absl::StatusCode::kInvalidArgument);
  c.set_feature_loss_weight(std::nan(""));
  EXPECT_EQ(Check(c, "config.feature_loss_weight"), absl::StatusCode::kInvalidArgument);
  c.set_feature_loss_weight(0.01);
  c.set_method(v1::JobConfig::METHOD_PTQ);
  EXPECT_EQ(Check(c, "config.feature_loss_weight"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_evaluation_protocol("megaface");
  EXPECT_EQ(Check(c, "config.evaluation_protocol"), absl::StatusCode::kInvalidArgument);
  c.set_evaluation_protocol("gone");
  EXPECT_EQ(Check(c, "config.evaluation_protocol"), absl::StatusCode::kFailedPrecondition);
  c.set_evaluation_protocol("lfw");
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  c = Valid();
  c.mutable_optimizer()->set_momentum(1.5);
  EXPECT_EQ(Check(c, "config.optimizer.momentum"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.mutable_optimizer()->set_algorithm(static_cast<v1::OptimizerConfig::Algorithm>(9));
  EXPECT_EQ(Check(c, "config.optimizer.algorithm"), absl::StatusCode::kInvalidArgument);
  c.mutable_optimizer()->set_algorithm(v1::OptimizerConfig::ALGORITHM_ADAMW);
  c.set_method(v1::JobConfig::METHOD_PTQ);
  EXPECT_EQ(Check(c, "config.optimizer.algorithm"), absl::StatusCode::kInvalidArgument);
  c = Valid();
  c.set_device(v1::DEVICE_PREFERENCE_GPU);
  EXPECT_EQ(Check(c, "config.device"), absl::StatusCode::kFailedPrecondition);
  limits_.cuda_devices = 1;
  EXPECT_TRUE(ValidateJobConfig(c, *registry_, limits_).ok());
  limits_.cpu_workers = 0;
  c.set_device(v1::DEVICE_PREFERENCE_CPU);
  EXPECT_EQ(Check(c, "config.device"), absl::StatusCode::kFailedPrecondition);
}

// A job may start from an earlier student of its own teacher, and is
// refused at submission (not after queueing) for anything else.
TEST_F(JobValidatorTest, InitialStudentMustBeAQuantizedStudentOfTheSameTeacher) {
  AddStudent("dlib-w4a8", "dlib-resnet");
  AddStudent("faceres-w4a8", "faceres");
  AddStudent("orphan", "");
  v1::JobConfig c = Valid();
  c.set_weight_bits(4);
  c.set_activation_bits(4);
  c.set_initial_student_model("models/dlib-w4a8");
  auto accepted = ValidateJobConfig(c, *registry_, limits_);
  ASSERT_TRUE(accepted.ok()) << accepted.status();
  EXPECT_EQ(accepted->initial_student_model(), "models/dlib-w4a8");

  c.set_initial_student_model("models/missing");
  EXPECT_EQ(Check(c, "config.initial_student_model"), absl::StatusCode::kNotFound);
  c.set_initial_student_model("models/faceres");  // The teacher of another job, not a student.
  EXPECT_EQ(Check(c, "config.initial_student_model"), absl::StatusCode::kFailedPrecondition);
  c.set_initial_student_model("models/faceres-w4a8");
  EXPECT_EQ(Check(c, "config.initial_student_model"), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(ValidateJobConfig(c, *registry_, limits_)
                .status()
                .message()
                .find("is a student of models/faceres, not of config.teacher_model "
                      "models/dlib-resnet"),
            std::string::npos);
  c.set_initial_student_model("models/orphan");
  EXPECT_EQ(Check(c, "config.initial_student_model"), absl::StatusCode::kFailedPrecondition);
  c.set_initial_student_model("dlib-w4a8");  // Not a resource name.
  EXPECT_EQ(Check(c, "config.initial_student_model"), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace qf::server
