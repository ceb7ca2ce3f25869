// VerificationService over real gRPC: Embed, Match and their batch forms on
// LFW images (evaluation data, read from ../shared at test time, never
// committed), and every error path a client can hit.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/lfw_faces.h"
#include "tests/integration/server_process.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;
using testing::PachecoA;
using testing::PachecoB;
using testing::ReadLfwImage;
using testing::Zakayev;

class VerificationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ServerProcess({"--max-batch-items=4"});
    ASSERT_TRUE(server_->Start().ok());
    stub_ = v1::VerificationService::NewStub(
                grpc::CreateChannel(server_->grpc_target(), grpc::InsecureChannelCredentials()))
                .release();
  }
  static void TearDownTestSuite() {
    delete stub_;
    delete server_;
  }

  static std::unique_ptr<grpc::ClientContext> Context() {
    auto context = std::make_unique<grpc::ClientContext>();
    context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
    return context;
  }

  v1::MatchResponse MatchAt(const v1::FaceInput& a, const v1::FaceInput& b, float threshold) {
    v1::MatchRequest request;
    *request.mutable_probe() = a;
    *request.mutable_reference_face() = b;
    request.mutable_decision()->set_threshold(threshold);
    v1::MatchResponse response;
    const grpc::Status status = stub_->Match(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  }

  // Suite-wide: the server loads models once for all tests (raw pointers
  // because gtest's static suite hooks need them; freed in TearDownTestSuite).
  static testing::ServerProcess* server_;
  static v1::VerificationService::Stub* stub_;
};

testing::ServerProcess* VerificationTest::server_ = nullptr;
v1::VerificationService::Stub* VerificationTest::stub_ = nullptr;

TEST_F(VerificationTest, EmbedReturnsNormalizedEmbeddingOfTheDefaultModel) {
  v1::EmbedRequest request;
  *request.mutable_face() = PachecoA();
  v1::EmbedResponse response;
  ASSERT_TRUE(stub_->Embed(Context().get(), request, &response).ok());
  EXPECT_EQ(response.embedding().model(), "models/dlib-resnet");
  ASSERT_EQ(response.embedding().values_size(), 128);
  double norm = 0;
  for (float v : response.embedding().values()) norm += v * v;
  EXPECT_NEAR(norm, 1.0, 1e-4);
}

TEST_F(VerificationTest, EmbedDetectsTheFaceInARawImage) {
  v1::EmbedRequest request;
  request.mutable_face()->set_image(ReadLfwImage("Abel_Pacheco/Abel_Pacheco_0001.jpg"));
  v1::EmbedResponse response;
  const grpc::Status status = stub_->Embed(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.face().landmarks_size(), 5);
  // The detector's left eye lands within a few pixels of the reference point.
  EXPECT_NEAR(response.face().landmarks(0).x(), 58.2, 6.0);
  EXPECT_NEAR(response.face().landmarks(0).y(), 64.8, 6.0);

  v1::EmbedRequest given;
  *given.mutable_face() = PachecoA();
  v1::EmbedResponse given_response;
  ASSERT_TRUE(stub_->Embed(Context().get(), given, &given_response).ok());
  double cosine = 0;
  for (int i = 0; i < 128; ++i) {
    cosine += response.embedding().values(i) * given_response.embedding().values(i);
  }
  EXPECT_GT(cosine, 0.9) << "detected and given landmarks should embed the same face";
}

TEST_F(VerificationTest, SamePersonScoresHigherThanDifferentPeople) {
  const auto same = MatchAt(PachecoA(), PachecoB(), 0.5f);
  const auto different = MatchAt(PachecoA(), Zakayev(), 0.5f);
  // dlib-resnet cosines are high for everyone (impostors ~0.85, genuine ~0.93).
  EXPECT_GT(same.score(), different.score() + 0.03f);
  EXPECT_EQ(same.is_match(), same.score() >= 0.5f);
  EXPECT_FLOAT_EQ(same.threshold(), 0.5f);
  EXPECT_EQ(same.model(), "models/dlib-resnet");
}

TEST_F(VerificationTest, EmbeddingInputsMatchTheirImages) {
  v1::EmbedRequest request;
  *request.mutable_face() = PachecoB();
  v1::EmbedResponse embedded;
  ASSERT_TRUE(stub_->Embed(Context().get(), request, &embedded).ok());
  v1::FaceInput as_embedding;
  *as_embedding.mutable_embedding() = embedded.embedding();
  const auto from_images = MatchAt(PachecoA(), PachecoB(), 0.5f);
  const auto from_embedding = MatchAt(PachecoA(), as_embedding, 0.5f);
  EXPECT_NEAR(from_images.score(), from_embedding.score(), 1e-5);
}

TEST_F(VerificationTest, FalseAcceptRateWithoutEvaluationIsFailedPrecondition) {
  v1::MatchRequest request;
  *request.mutable_probe() = PachecoA();
  *request.mutable_reference_face() = PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-3);
  v1::MatchResponse response;
  const grpc::Status status = stub_->Match(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("quantface bench lfw"), std::string::npos)
      << status.error_message();
}

TEST_F(VerificationTest, ThresholdComesFromTheEvaluationReport) {
  // A report in the format `quantface bench lfw --report` writes.
  const std::string dir = server_->data_dir() + "/evaluations";
  std::filesystem::create_directories(dir);
  std::ofstream(dir + "/dlib-resnet.json") << R"({"metrics": {"tar_at_far": [
      {"far_target": 0.001, "far": 0.001, "tar": 0.97, "threshold": 0.4321, "measurable": true}
  ]}})";
  v1::MatchRequest request;
  *request.mutable_probe() = PachecoA();
  *request.mutable_reference_face() = PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-3);
  v1::MatchResponse response;
  const grpc::Status status = stub_->Match(Context().get(), request, &response);
  std::filesystem::remove(dir + "/dlib-resnet.json");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(response.threshold(), 0.4321f);
  EXPECT_DOUBLE_EQ(response.false_accept_rate(), 1e-3);
  EXPECT_EQ(response.is_match(), response.score() >= 0.4321f);
}

// A report of mirror-averaged embeddings (`bench lfw --flip`) has thresholds
// for another score than a plain Match's: it serves only Match calls with
// flip_average, from its own place, and those embed both faces mirrored.
TEST_F(VerificationTest, MirrorAveragedMatchesTakeMirrorAveragedThresholds) {
  const std::string dir = server_->data_dir() + "/evaluations";
  std::filesystem::create_directories(dir + "/flip");
  const std::string report = R"({"flip": true, "metrics": {"tar_at_far": [
      {"far_target": 0.001, "far": 0.001, "tar": 0.97, "threshold": 0.4321, "measurable": true}
  ]}})";
  v1::MatchRequest request;
  *request.mutable_probe() = PachecoA();
  *request.mutable_reference_face() = PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-3);
  request.set_flip_average(true);
  v1::MatchResponse flipped;
  grpc::Status status = stub_->Match(Context().get(), request, &flipped);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);  // No report yet.
  EXPECT_NE(status.error_message().find("--flip --report " + dir + "/flip/dlib-resnet.json"),
            std::string::npos)
      << status.error_message();

  std::ofstream(dir + "/flip/dlib-resnet.json") << report;
  std::ofstream(dir + "/dlib-resnet.json") << report;  // In the plain place by mistake.
  status = stub_->Match(Context().get(), request, &flipped);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(flipped.threshold(), 0.4321f);

  request.set_flip_average(false);
  v1::MatchResponse plain;
  status = stub_->Match(Context().get(), request, &plain);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("mirror-averaged"), std::string::npos)
      << status.error_message();
  request.mutable_decision()->set_threshold(0.5f);
  status = stub_->Match(Context().get(), request, &plain);
  std::filesystem::remove(dir + "/dlib-resnet.json");
  std::filesystem::remove(dir + "/flip/dlib-resnet.json");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_NE(plain.score(), flipped.score());  // The mirror changed the embeddings.
  EXPECT_NEAR(plain.score(), flipped.score(), 0.05);
  // Against an enrolled identity the gallery decides:
  // GalleryTest.MirrorAveragedGalleryEmbedsTemplatesAndProbesAlike.
}

// An operator's report from every pair of LFW images (first 40 people, as
// `quantface bench lfw --protocol all-pairs` writes it) serves Match's
// threshold for a FAR; its protocol names itself when a FAR is missing.
TEST_F(VerificationTest, ThresholdComesFromAnAllPairsReport) {
  const std::string dir = server_->data_dir() + "/evaluations";
  const std::string report_path = dir + "/dlib-resnet.json";
  const testing::CommandResult bench = testing::RunCommand(
      {QF_CLI_BINARY, "bench", "lfw", "--data", std::string(QF_SHARED_DIR) + "/data/lfw",
       "--asset-dir", QF_ASSET_DIR, "--protocol", "all-pairs", "--max-people", "40", "--far",
       "1e-2,1e-3,1e-4", "--threads", "2", "--report", report_path});
  ASSERT_EQ(bench.exit_status, 0) << bench.err;
  EXPECT_NE(bench.out.find("LFW all pairs: 70 images of 40 people"), std::string::npos)
      << bench.out;
  std::ifstream in(report_path);
  const nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
  ASSERT_FALSE(report.is_discarded());
  const nlohmann::json& at_1e3 = report["all_pairs"]["tar_at_far"][1];
  ASSERT_DOUBLE_EQ(at_1e3["far_target"].get<double>(), 1e-3);
  ASSERT_TRUE(at_1e3["measurable"].get<bool>());  // 2,329 different pairs.

  v1::MatchRequest request;
  *request.mutable_probe() = PachecoA();
  *request.mutable_reference_face() = PachecoB();
  request.mutable_decision()->set_false_accept_rate(1e-3);
  v1::MatchResponse response;
  grpc::Status status = stub_->Match(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(response.threshold(), at_1e3["threshold"].get<float>());
  EXPECT_EQ(response.is_match(), response.score() >= response.threshold());

  request.mutable_decision()->set_false_accept_rate(1e-4);  // Under 1 / 2,329: not measured.
  status = stub_->Match(Context().get(), request, &response);
  std::filesystem::remove(report_path);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("on protocol 'lfw-all-pairs'; measured: [0.01, 0.001]"),
            std::string::npos)
      << status.error_message();
}

TEST_F(VerificationTest, BadInputsGetClearErrors) {
  struct Case {
    std::string what;
    v1::EmbedRequest request;
    grpc::StatusCode code;
    std::string message;
  };
  std::vector<Case> cases;
  {
    Case c{"garbage bytes", {}, grpc::StatusCode::INVALID_ARGUMENT, ""};
    c.request.mutable_face()->set_image("this is not an image");
    cases.push_back(c);
  }
  {
    Case c{"four landmarks", {}, grpc::StatusCode::INVALID_ARGUMENT, "exactly 5 landmarks"};
    *c.request.mutable_face() = PachecoA();
    c.request.mutable_face()->mutable_landmarked_image()->mutable_landmarks()->RemoveLast();
    cases.push_back(c);
  }
  {
    Case c{"unknown model", {}, grpc::StatusCode::NOT_FOUND, "models/dlib-resnet"};
    c.request.set_model("models/nope");
    *c.request.mutable_face() = PachecoA();
    cases.push_back(c);
  }
  {
    Case c{"malformed model name", {}, grpc::StatusCode::INVALID_ARGUMENT, "models/{model}"};
    c.request.set_model("dlib-resnet");
    *c.request.mutable_face() = PachecoA();
    cases.push_back(c);
  }
  {
    Case c{"wrong crop size", {}, grpc::StatusCode::INVALID_ARGUMENT, "150x150"};
    c.request.mutable_face()->set_aligned_crop(ReadLfwImage("Abel_Pacheco/Abel_Pacheco_0001.jpg"));
    // The LFW file is 150x150, which is right for dlib-resnet: use faceres (224).
    c.request.set_model("models/faceres");
    c.message = "224x224";
    cases.push_back(c);
  }
  {
    Case c{"empty face", {}, grpc::StatusCode::INVALID_ARGUMENT, ""};
    cases.push_back(c);
  }
  for (const Case& c : cases) {
    v1::EmbedResponse response;
    const grpc::Status status = stub_->Embed(Context().get(), c.request, &response);
    EXPECT_EQ(status.error_code(), c.code) << c.what << ": " << status.error_message();
    EXPECT_NE(status.error_message().find(c.message), std::string::npos)
        << c.what << ": " << status.error_message();
  }
}

TEST_F(VerificationTest, EmbeddingOfAnotherModelIsRefused) {
  v1::FaceInput foreign;
  foreign.mutable_embedding()->set_model("models/faceres");
  for (int i = 0; i < 128; ++i) foreign.mutable_embedding()->add_values(1.0f);
  v1::MatchRequest request;
  *request.mutable_probe() = PachecoA();
  *request.mutable_reference_face() = foreign;
  request.mutable_decision()->set_threshold(0.5f);
  v1::MatchResponse response;
  const grpc::Status status = stub_->Match(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
}

TEST_F(VerificationTest, BatchEmbedReportsEachItem) {
  v1::BatchEmbedRequest request;
  *request.add_faces() = PachecoA();
  request.add_faces()->set_image("junk");
  *request.add_faces() = Zakayev();
  v1::BatchEmbedResponse response;
  ASSERT_TRUE(stub_->BatchEmbed(Context().get(), request, &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).status().code(), 0);
  EXPECT_EQ(response.results(0).response().embedding().values_size(), 128);
  EXPECT_EQ(response.results(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(2).status().code(), 0);

  // The same faces one at a time give the same embeddings (batching is exact).
  v1::EmbedRequest single;
  *single.mutable_face() = Zakayev();
  v1::EmbedResponse alone;
  ASSERT_TRUE(stub_->Embed(Context().get(), single, &alone).ok());
  for (int i = 0; i < 128; ++i) {
    EXPECT_NEAR(alone.embedding().values(i), response.results(2).response().embedding().values(i),
                1e-5);
  }
}

TEST_F(VerificationTest, OversizedBatchIsRejected) {
  v1::BatchEmbedRequest request;
  for (int i = 0; i < 5; ++i) *request.add_faces() = PachecoA();
  v1::BatchEmbedResponse response;
  const grpc::Status status = stub_->BatchEmbed(Context().get(), request, &response);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("at most 4"), std::string::npos);
}

TEST_F(VerificationTest, BatchMatchReportsEachPair) {
  v1::BatchMatchRequest request;
  for (const auto& other : {PachecoB(), Zakayev()}) {
    auto* pair = request.add_requests();
    *pair->mutable_probe() = PachecoA();
    *pair->mutable_reference_face() = other;
    pair->mutable_decision()->set_threshold(0.5f);
  }
  request.add_requests();  // No faces at all.
  v1::BatchMatchResponse response;
  ASSERT_TRUE(stub_->BatchMatch(Context().get(), request, &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_GT(response.results(0).response().score(), response.results(1).response().score());
  EXPECT_EQ(response.results(2).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
}

}  // namespace
}  // namespace qf
