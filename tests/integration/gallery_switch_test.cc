// SwitchGalleryModel over real gRPC: a gallery enrolled by dlib-resnet is
// rebound to a student distilled from it (a tiny real QAT job), keeps its
// templates, identifies probes embedded by the student, survives a restart,
// and switches back; unrelated or unknown models are refused. The teacher's
// templates are then decided at the thresholds measured across teacher and
// student, the student's own at its own.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <thread>

#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/quantization.grpc.pb.h"
#include "quantface/v1/registry.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/job_polling.h"
#include "tests/integration/lfw_faces.h"
#include "tests/integration/server_process.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;
using std::chrono::seconds;
using testing::PachecoA;
using testing::PachecoB;
using testing::Zakayev;

std::unique_ptr<grpc::ClientContext> Context(int timeout_seconds = 120) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + seconds(timeout_seconds));
  return context;
}

class GallerySwitchTest : public ::testing::Test {
 protected:
  void Connect(testing::ServerProcess& server) {
    const absl::Status started = server.Start();
    ASSERT_TRUE(started.ok()) << started;
    auto channel = grpc::CreateChannel(server.grpc_target(), grpc::InsecureChannelCredentials());
    galleries_ = v1::GalleryService::NewStub(channel);
    verification_ = v1::VerificationService::NewStub(channel);
    jobs_ = v1::QuantizationService::NewStub(channel);
  }

  // A w8a8 student of dlib-resnet from a 3-step QAT job on noise images.
  std::string MakeStudent() {
    v1::SubmitJobRequest request;
    v1::JobConfig& config = *request.mutable_config();
    config.set_teacher_model("models/dlib-resnet");
    config.set_weight_bits(8);
    config.set_activation_bits(8);
    config.mutable_synthetic_data()->set_source(v1::SyntheticDataConfig::SOURCE_GAUSSIAN_NOISE);
    config.mutable_synthetic_data()->set_seed(7);
    config.set_steps(3);
    config.set_batch_size(2);
    config.set_activation_warmup_steps(1);
    config.set_device(v1::DEVICE_PREFERENCE_CPU);
    v1::Job job;
    const grpc::Status submitted = jobs_->SubmitJob(Context().get(), request, &job);
    EXPECT_TRUE(submitted.ok()) << submitted.error_message();
    job = testing::WaitForJob(
        *jobs_, job.name(),
        [](const v1::Job& j) {
          return j.state() == v1::Job::STATE_SUCCEEDED || j.state() == v1::Job::STATE_FAILED;
        },
        300);
    if (job.state() == v1::Job::STATE_FAILED) ADD_FAILURE() << job.error_message();
    return job.state() == v1::Job::STATE_SUCCEEDED ? job.output_model() : "";
  }

  grpc::Status Switch(const std::string& gallery, const std::string& model,
                      v1::Gallery* out = nullptr) {
    v1::SwitchGalleryModelRequest request;
    request.set_name(gallery);
    request.set_model(model);
    v1::Gallery response;
    const grpc::Status status = galleries_->SwitchGalleryModel(Context().get(), request, &response);
    if (out != nullptr) *out = response;
    return status;
  }

  v1::Gallery Get(const std::string& gallery) {
    v1::GetGalleryRequest request;
    request.set_name(gallery);
    v1::Gallery response;
    EXPECT_TRUE(galleries_->GetGallery(Context().get(), request, &response).ok());
    return response;
  }

  grpc::Status Enroll(const std::string& gallery, const std::string& identity,
                      const v1::FaceInput& face) {
    v1::EnrollRequest enroll;
    enroll.set_gallery(gallery);
    enroll.set_identity_id(identity);
    *enroll.add_faces() = face;
    v1::EnrollResponse enrolled;
    return galleries_->Enroll(Context().get(), enroll, &enrolled);
  }

  v1::IdentifyResponse IdentifyPacheco(const std::string& gallery) {
    v1::IdentifyRequest request;
    request.set_gallery(gallery);
    *request.mutable_probe() = PachecoB();
    request.set_top_k(2);
    request.mutable_decision()->set_threshold(-1.0f);
    v1::IdentifyResponse response;
    const grpc::Status status = verification_->Identify(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  testing::ServerProcess server_;
  std::unique_ptr<v1::GalleryService::Stub> galleries_;
  std::unique_ptr<v1::VerificationService::Stub> verification_;
  std::unique_ptr<v1::QuantizationService::Stub> jobs_;
};

TEST_F(GallerySwitchTest, StudentTakesOverTheTeachersTemplatesAndUnrelatedModelsAreRefused) {
  Connect(server_);
  const std::string student = MakeStudent();
  ASSERT_FALSE(student.empty());

  v1::CreateGalleryRequest create;
  create.set_gallery_id("switch");
  create.mutable_gallery()->set_model("models/dlib-resnet");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->CreateGallery(Context().get(), create, &gallery).ok());
  for (const auto& [id, face] : std::vector<std::pair<std::string, v1::FaceInput>>{
           {"pacheco", PachecoA()}, {"zakayev", Zakayev()}}) {
    v1::EnrollRequest enroll;
    enroll.set_gallery(gallery.name());
    enroll.set_identity_id(id);
    *enroll.add_faces() = face;
    v1::EnrollResponse enrolled;
    const grpc::Status status = galleries_->Enroll(Context().get(), enroll, &enrolled);
    ASSERT_TRUE(status.ok()) << status.error_message();
  }
  const v1::IdentifyResponse by_teacher = IdentifyPacheco(gallery.name());
  ASSERT_EQ(by_teacher.candidates_size(), 2);
  EXPECT_EQ(by_teacher.candidates(0).identity_id(), "pacheco");

  // Unrelated, unknown or malformed: refused, and the gallery is unchanged.
  const grpc::Status unrelated = Switch(gallery.name(), "models/mobileface");
  EXPECT_EQ(unrelated.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(unrelated.error_message().find("not distilled from"), std::string::npos)
      << unrelated.error_message();
  EXPECT_EQ(Switch(gallery.name(), "models/nope").error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Switch("galleries/nope", student).error_code(), grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(Switch(gallery.name(), "").error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Switch("switch", student).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Get(gallery.name()).model(), "models/dlib-resnet");

  // The student of the gallery's model: templates kept, probes by the student.
  v1::Gallery switched;
  const grpc::Status status = Switch(gallery.name(), student, &switched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(switched.model(), student);
  EXPECT_EQ(switched.identity_count(), 2);
  EXPECT_EQ(switched.template_count(), 2);
  const v1::IdentifyResponse by_student = IdentifyPacheco(gallery.name());
  ASSERT_EQ(by_student.candidates_size(), 2);
  EXPECT_EQ(by_student.candidates(0).identity_id(), "pacheco");
  // The probe embedding changed (another model), the templates did not.
  EXPECT_NE(by_student.candidates(0).score(), by_teacher.candidates(0).score());
  EXPECT_NEAR(by_student.candidates(0).score(), by_teacher.candidates(0).score(), 0.05);
  // Match against an enrolled identity now needs the student's embeddings.
  v1::MatchRequest match;
  *match.mutable_probe() = PachecoB();
  match.mutable_reference_identity()->set_gallery(gallery.name());
  match.mutable_reference_identity()->set_identity_id("pacheco");
  match.set_model("models/dlib-resnet");
  match.mutable_decision()->set_threshold(0.5f);
  v1::MatchResponse matched;
  EXPECT_EQ(verification_->Match(Context().get(), match, &matched).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);

  // The binding is durable.
  server_.Stop();
  testing::ServerProcess restarted;
  restarted.set_data_dir(server_.data_dir());
  Connect(restarted);
  EXPECT_EQ(Get(gallery.name()).model(), student);
  EXPECT_EQ(IdentifyPacheco(gallery.name()).candidates(0).identity_id(), "pacheco");

  // Back to the teacher (the student's teacher_model), with the CLI.
  const testing::CommandResult back =
      testing::RunCommand({QF_CLI_BINARY, "--server", restarted.grpc_target(), "gallery",
                           "switch-model", "switch", "--model", "dlib-resnet"});
  EXPECT_EQ(back.exit_status, 0) << back.out << back.err;
  EXPECT_NE(back.out.find("models/dlib-resnet"), std::string::npos) << back.out;
  EXPECT_EQ(Get(gallery.name()).model(), "models/dlib-resnet");
  const v1::IdentifyResponse again = IdentifyPacheco(gallery.name());
  ASSERT_EQ(again.candidates_size(), 2);
  EXPECT_NEAR(again.candidates(0).score(), by_teacher.candidates(0).score(), 1e-4);
}

// An operator's report for a student (as `quantface bench lfw --protocol
// all-pairs --model-file S.qfp --teacher T --report` writes it): the
// student's own points, and with `cross` the teacher-vs-student pairs'.
std::string StudentReport(float own_threshold, float cross_threshold, bool cross) {
  auto points = [](float threshold) {
    return "{\"all_pairs\": {\"tar_at_far\": [{\"far_target\": 0.001, \"far\": 0.001, \"tar\": "
           "0.9, \"threshold\": " +
           std::to_string(threshold) +
           ", \"measurable\": true}]}, \"benchmark\": " + "\"lfw-all-pairs\"}";
  };
  std::string report = points(own_threshold);
  if (cross) {
    report.pop_back();
    report += ", \"cross_teacher_student\": " + points(cross_threshold) + "}";
  }
  return report;
}

TEST_F(GallerySwitchTest, TeacherTemplatesAreDecidedAtThresholdsMeasuredAcrossTheTwoModels) {
  Connect(server_);
  const std::string student = MakeStudent();
  ASSERT_FALSE(student.empty());
  const std::string student_id = student.substr(std::string("models/").size());
  v1::CreateGalleryRequest create;
  create.set_gallery_id("cross");
  create.mutable_gallery()->set_model("models/dlib-resnet");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->CreateGallery(Context().get(), create, &gallery).ok());
  ASSERT_TRUE(Enroll(gallery.name(), "pacheco", PachecoA()).ok());
  ASSERT_TRUE(Enroll(gallery.name(), "zakayev", Zakayev()).ok());
  ASSERT_TRUE(Switch(gallery.name(), student).ok());
  // The student has no evaluation yet: the switch stands, the log says so.
  std::ifstream log_file(server_.log_path());
  const std::string log((std::istreambuf_iterator<char>(log_file)),
                        std::istreambuf_iterator<char>());
  EXPECT_NE(log.find("gallery cross switched to " + student +
                     ": its 2 templates of models/dlib-resnet have no FAR thresholds"),
            std::string::npos)
      << log;

  v1::MatchRequest match;
  *match.mutable_probe() = PachecoB();
  match.mutable_reference_identity()->set_gallery(gallery.name());
  match.mutable_reference_identity()->set_identity_id("pacheco");
  match.mutable_decision()->set_false_accept_rate(1e-3);
  v1::MatchResponse matched;
  // The student's own thresholds alone do not decide teacher templates.
  const std::string evaluations = server_.data_dir() + "/evaluations";
  std::filesystem::create_directories(evaluations);
  const std::string report_path = evaluations + "/" + student_id + ".json";
  std::ofstream(report_path) << StudentReport(0.5f, 0.6f, /*cross=*/false);
  grpc::Status status = verification_->Match(Context().get(), match, &matched);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("--teacher dlib-resnet"), std::string::npos)
      << status.error_message();

  std::string malformed = StudentReport(0.5f, 0.6f, /*cross=*/false);
  malformed.pop_back();
  std::ofstream(report_path) << malformed << ", \"cross_teacher_student\": [1]}";
  EXPECT_EQ(verification_->Match(Context().get(), match, &matched).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  std::ofstream(report_path) << StudentReport(0.5f, 0.6f, /*cross=*/true);
  status = verification_->Match(Context().get(), match, &matched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(matched.threshold(), 0.6f);
  EXPECT_DOUBLE_EQ(matched.false_accept_rate(), 1e-3);
  EXPECT_EQ(matched.reference_model(), "models/dlib-resnet");
  EXPECT_EQ(matched.model(), student);
  EXPECT_EQ(matched.is_match(), matched.score() >= 0.6f);

  v1::IdentifyRequest identify;
  identify.set_gallery(gallery.name());
  *identify.mutable_probe() = PachecoB();
  identify.mutable_decision()->set_false_accept_rate(1e-3);
  v1::IdentifyResponse identified;
  status = verification_->Identify(Context().get(), identify, &identified);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(identified.threshold(), 0.5f);  // for the student's own templates
  ASSERT_GE(identified.candidates_size(), 1);
  EXPECT_EQ(identified.candidates(0).identity_id(), "pacheco");
  EXPECT_FLOAT_EQ(identified.candidates(0).threshold(), 0.6f);
  EXPECT_EQ(identified.candidates(0).template_model(), "models/dlib-resnet");
  for (const v1::Candidate& candidate : identified.candidates()) {
    EXPECT_GE(candidate.score(), 0.6f) << candidate.identity_id();
  }

  // Enrolled again after the switch: the student's template of the same
  // face clears its own, lower threshold by more, so it decides.
  EXPECT_EQ(Get(gallery.name()).template_counts_by_model().at("models/dlib-resnet"), 2);
  EXPECT_EQ(Get(gallery.name()).template_counts_by_model().size(), 1u);
  ASSERT_TRUE(Enroll(gallery.name(), "pacheco", PachecoA()).ok());
  const v1::Gallery mixed = Get(gallery.name());
  EXPECT_EQ(mixed.template_counts_by_model().at("models/dlib-resnet"), 2);
  EXPECT_EQ(mixed.template_counts_by_model().at(student), 1);
  status = verification_->Match(Context().get(), match, &matched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(matched.reference_model(), student);
  EXPECT_FLOAT_EQ(matched.threshold(), 0.5f);
  EXPECT_TRUE(matched.is_match());
  // The same from the CLI, whose face goes through the detector.
  auto cli = [this](std::vector<std::string> args) {
    args.insert(args.begin(), {QF_CLI_BINARY, "--server", server_.grpc_target(), "--json"});
    return testing::RunCommand(args);
  };
  const std::string probe_path =
      std::string(QF_SHARED_DIR) + "/data/lfw/images/Abel_Pacheco/Abel_Pacheco_0004.jpg";
  testing::CommandResult by_cli =
      cli({"match", probe_path, "--gallery", "cross", "--identity", "pacheco", "--far", "1e-3"});
  EXPECT_EQ(by_cli.exit_status, 0) << by_cli.err;
  EXPECT_NE(by_cli.out.find("\"reference_model\":\"" + student + "\""), std::string::npos)
      << by_cli.out;
  by_cli = cli({"match", probe_path, "--identity", "pacheco"});
  EXPECT_EQ(by_cli.exit_status, 2) << by_cli.err;
  by_cli = cli({"match", probe_path, probe_path, "--gallery", "cross", "--identity", "pacheco"});
  EXPECT_EQ(by_cli.exit_status, 2) << by_cli.err;
  by_cli = cli({"match", probe_path});
  EXPECT_EQ(by_cli.exit_status, 2) << by_cli.err;

  // An explicit threshold holds for every template.
  match.mutable_decision()->set_threshold(0.55f);
  status = verification_->Match(Context().get(), match, &matched);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(matched.threshold(), 0.55f);
  EXPECT_DOUBLE_EQ(matched.false_accept_rate(), 0.0);

  // Back to the teacher, then on to another student: the gallery's templates
  // of the first student could not be compared with the second's probes.
  const std::string second = MakeStudent();
  ASSERT_FALSE(second.empty());
  ASSERT_TRUE(Switch(gallery.name(), "models/dlib-resnet").ok());
  status = Switch(gallery.name(), second);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("still holds 1 templates of " + student), std::string::npos)
      << status.error_message();
  EXPECT_EQ(Get(gallery.name()).model(), "models/dlib-resnet");

  // Operators see the mix, and the first student cannot be deleted while
  // its template is enrolled: its entry holds the cross-model thresholds.
  const std::string metrics = testing::HttpGet(server_.metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("quantface_gallery_templates_by_model{gallery=\"cross\",model=\"" +
                         student + "\"} 1"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("quantface_gallery_templates_by_model{gallery=\"cross\",model=\"models/"
                         "dlib-resnet\"} 2"),
            std::string::npos);
  auto registry = v1::ModelRegistry::NewStub(
      grpc::CreateChannel(server_.grpc_target(), grpc::InsecureChannelCredentials()));
  v1::DeleteModelRequest remove;
  remove.set_name(student);
  google::protobuf::Empty empty;
  status = registry->DeleteModel(Context().get(), remove, &empty);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("cross"), std::string::npos) << status.error_message();
  remove.set_name(second);
  status = registry->DeleteModel(Context().get(), remove, &empty);
  EXPECT_TRUE(status.ok()) << status.error_message();
}

}  // namespace
}  // namespace qf
