// GalleryService and 1:N Identify over real gRPC against the real server:
// enrol -> identify, match against an enrolled identity, metadata filters,
// every error path, durability across kill -9, concurrent enrol + identify,
// and the CLI. Faces are LFW images (evaluation data, read from ../shared at
// test time, never committed) with their landmarks from landmarks5.tsv.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <thread>

#include "quantface/v1/gallery.grpc.pb.h"
#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/server_process.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;

const std::string kLfw = std::string(QF_SHARED_DIR) + "/data/lfw";

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return bytes.str();
}

// An LFW image with its five reference landmarks, e.g. "Abel_Pacheco/Abel_Pacheco_0001.jpg".
v1::FaceInput Lfw(const std::string& key) {
  static const std::map<std::string, std::vector<float>> landmarks = [] {
    std::map<std::string, std::vector<float>> table;
    std::ifstream in(kLfw + "/landmarks5.tsv");
    std::string line;
    while (std::getline(in, line)) {
      std::istringstream fields(line);
      std::string name;
      fields >> name;
      std::vector<float> points(10);
      for (float& v : points) fields >> v;
      table[name] = points;
    }
    return table;
  }();
  v1::FaceInput face;
  face.mutable_landmarked_image()->set_image(ReadFile(kLfw + "/images/" + key));
  const auto& points = landmarks.at(key);
  for (size_t i = 0; i < points.size(); i += 2) {
    auto* point = face.mutable_landmarked_image()->add_landmarks();
    point->set_x(points[i]);
    point->set_y(points[i + 1]);
  }
  return face;
}

// A uniform grey 64x64 BMP: decodes fine, has no face.
std::string FacelessBmp() {
  constexpr int kSide = 64;
  const int row = kSide * 3;
  const int pixels = row * kSide;
  std::string bmp(54 + pixels, '\x80');
  auto put32 = [&bmp](int at, uint32_t v) {
    for (int i = 0; i < 4; ++i) bmp[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
  };
  auto put16 = [&bmp](int at, uint16_t v) {
    bmp[at] = static_cast<char>(v & 0xff);
    bmp[at + 1] = static_cast<char>(v >> 8);
  };
  bmp[0] = 'B';
  bmp[1] = 'M';
  put32(2, 54 + pixels);
  put32(6, 0);
  put32(10, 54);
  put32(14, 40);
  put32(18, kSide);
  put32(22, kSide);
  put16(26, 1);
  put16(28, 24);
  put32(30, 0);
  put32(34, pixels);
  put32(38, 2835);
  put32(42, 2835);
  put32(46, 0);
  put32(50, 0);
  return bmp;
}

v1::FaceInput EmbeddingFace(const std::vector<float>& values,
                            const std::string& model = "models/dlib-resnet") {
  v1::FaceInput face;
  face.mutable_embedding()->set_model(model);
  face.mutable_embedding()->mutable_values()->Assign(values.begin(), values.end());
  return face;
}

std::vector<float> RandomUnit(std::mt19937& rng, int dim = 128) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  double norm = 0;
  for (float& x : v) {
    x = normal(rng);
    norm += x * x;
  }
  for (float& x : v) x /= static_cast<float>(std::sqrt(norm));
  return v;
}

std::unique_ptr<grpc::ClientContext> Context(int seconds = 60) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return context;
}

class GalleryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    server_ = new testing::ServerProcess({"--max-batch-items=4"});
    ASSERT_TRUE(server_->Start().ok());
    auto channel = grpc::CreateChannel(server_->grpc_target(), grpc::InsecureChannelCredentials());
    galleries_ = v1::GalleryService::NewStub(channel).release();
    verification_ = v1::VerificationService::NewStub(channel).release();
  }
  static void TearDownTestSuite() {
    delete galleries_;
    delete verification_;
    delete server_;
  }

  static grpc::Status Create(const std::string& id,
                             const std::string& model = "models/dlib-resnet") {
    v1::CreateGalleryRequest request;
    request.set_gallery_id(id);
    request.mutable_gallery()->set_model(model);
    request.mutable_gallery()->set_display_name("Gallery " + id);
    v1::Gallery gallery;
    return galleries_->CreateGallery(Context().get(), request, &gallery);
  }

  static grpc::Status Enroll(const std::string& gallery, const std::string& identity,
                             std::vector<v1::FaceInput> faces,
                             std::map<std::string, std::string> metadata = {},
                             v1::EnrollResponse* out = nullptr) {
    v1::EnrollRequest request;
    request.set_gallery("galleries/" + gallery);
    request.set_identity_id(identity);
    request.set_display_name("Name of " + identity);
    for (auto& face : faces) *request.add_faces() = std::move(face);
    request.mutable_metadata()->insert(metadata.begin(), metadata.end());
    v1::EnrollResponse response;
    return galleries_->Enroll(Context().get(), request, out != nullptr ? out : &response);
  }

  static v1::IdentifyRequest IdentifyRequest(const std::string& gallery, v1::FaceInput probe,
                                             float threshold, int top_k = 0) {
    v1::IdentifyRequest request;
    request.set_gallery("galleries/" + gallery);
    *request.mutable_probe() = std::move(probe);
    request.set_top_k(top_k);
    request.mutable_decision()->set_threshold(threshold);
    return request;
  }

  // Three people, one template each from their first image.
  static void EnrollThreePeople(const std::string& gallery) {
    ASSERT_TRUE(Create(gallery).ok());
    ASSERT_TRUE(
        Enroll(gallery, "pacheco", {Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg")}, {{"site", "north"}})
            .ok());
    ASSERT_TRUE(Enroll(gallery, "zakayev", {Lfw("Akhmed_Zakayev/Akhmed_Zakayev_0001.jpg")},
                       {{"site", "south"}})
                    .ok());
    ASSERT_TRUE(Enroll(gallery, "toledo",
                       {Lfw("Alejandro_Toledo/Alejandro_Toledo_0039.jpg"),
                        Lfw("Alejandro_Toledo/Alejandro_Toledo_0038.jpg")},
                       {{"site", "south"}})
                    .ok());
  }

  static testing::ServerProcess* server_;
  static v1::GalleryService::Stub* galleries_;
  static v1::VerificationService::Stub* verification_;
};

testing::ServerProcess* GalleryTest::server_ = nullptr;
v1::GalleryService::Stub* GalleryTest::galleries_ = nullptr;
v1::VerificationService::Stub* GalleryTest::verification_ = nullptr;

TEST_F(GalleryTest, CreateGetListDelete) {
  ASSERT_TRUE(Create("lifecycle-a").ok());
  ASSERT_TRUE(Create("lifecycle-b").ok());
  EXPECT_EQ(Create("lifecycle-a").error_code(), grpc::StatusCode::ALREADY_EXISTS);

  v1::GetGalleryRequest get;
  get.set_name("galleries/lifecycle-a");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->GetGallery(Context().get(), get, &gallery).ok());
  EXPECT_EQ(gallery.name(), "galleries/lifecycle-a");
  EXPECT_EQ(gallery.model(), "models/dlib-resnet");
  EXPECT_EQ(gallery.display_name(), "Gallery lifecycle-a");
  EXPECT_EQ(gallery.identity_count(), 0);
  EXPECT_GT(gallery.create_time().seconds(), 1600000000);

  // Page through every gallery one at a time; both ours must appear once.
  std::vector<std::string> names;
  v1::ListGalleriesRequest list;
  list.set_page_size(1);
  while (true) {
    v1::ListGalleriesResponse page;
    ASSERT_TRUE(galleries_->ListGalleries(Context().get(), list, &page).ok());
    ASSERT_LE(page.galleries_size(), 1);
    for (const auto& g : page.galleries()) names.push_back(g.name());
    if (page.next_page_token().empty()) break;
    list.set_page_token(page.next_page_token());
  }
  EXPECT_EQ(std::count(names.begin(), names.end(), "galleries/lifecycle-a"), 1);
  EXPECT_EQ(std::count(names.begin(), names.end(), "galleries/lifecycle-b"), 1);

  v1::DeleteGalleryRequest remove;
  remove.set_name("galleries/lifecycle-a");
  google::protobuf::Empty empty;
  ASSERT_TRUE(galleries_->DeleteGallery(Context().get(), remove, &empty).ok());
  EXPECT_EQ(galleries_->GetGallery(Context().get(), get, &gallery).error_code(),
            grpc::StatusCode::NOT_FOUND);
  EXPECT_EQ(galleries_->DeleteGallery(Context().get(), remove, &empty).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GalleryTest, CreateErrorsNameTheField) {
  v1::CreateGalleryRequest request;
  request.set_gallery_id("bad/id");
  request.mutable_gallery()->set_model("models/dlib-resnet");
  v1::Gallery gallery;
  grpc::Status status = galleries_->CreateGallery(Context().get(), request, &gallery);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("gallery_id"), std::string::npos);
  request.set_gallery_id("no-model");
  request.mutable_gallery()->clear_model();
  status = galleries_->CreateGallery(Context().get(), request, &gallery);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("gallery.model"), std::string::npos);
  EXPECT_EQ(Create("unknown-model", "models/nope").error_code(), grpc::StatusCode::NOT_FOUND);
  v1::GetGalleryRequest get;
  get.set_name("nogalleries/x");
  EXPECT_EQ(galleries_->GetGallery(Context().get(), get, &gallery).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GalleryTest, EnrollThenIdentifyFindsTheRightIdentity) {
  EnrollThreePeople("identify");
  v1::GetGalleryRequest get;
  get.set_name("galleries/identify");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->GetGallery(Context().get(), get, &gallery).ok());
  EXPECT_EQ(gallery.identity_count(), 3);
  EXPECT_EQ(gallery.template_count(), 4);

  // Other images of each person than the enrolled ones.
  const std::vector<std::pair<std::string, std::string>> probes = {
      {"pacheco", "Abel_Pacheco/Abel_Pacheco_0004.jpg"},
      {"zakayev", "Akhmed_Zakayev/Akhmed_Zakayev_0002.jpg"},
      {"toledo", "Alejandro_Toledo/Alejandro_Toledo_0030.jpg"}};
  for (const auto& [expected, key] : probes) {
    v1::IdentifyResponse response;
    const grpc::Status status = verification_->Identify(
        Context().get(), IdentifyRequest("identify", Lfw(key), -1.0f, 3), &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    ASSERT_EQ(response.candidates_size(), 3) << key;
    EXPECT_EQ(response.candidates(0).identity_id(), expected) << key;
    EXPECT_EQ(response.candidates(0).display_name(), "Name of " + expected);
    EXPECT_GE(response.candidates(0).score(), response.candidates(1).score());
    EXPECT_GE(response.candidates(1).score(), response.candidates(2).score());
    EXPECT_FLOAT_EQ(response.threshold(), -1.0f);
  }

  // Open-set rejection: above every score, nobody is returned.
  v1::IdentifyResponse rejected;
  ASSERT_TRUE(
      verification_
          ->Identify(Context().get(),
                     IdentifyRequest("identify", Lfw("Abel_Pacheco/Abel_Pacheco_0004.jpg"), 0.999f),
                     &rejected)
          .ok());
  EXPECT_EQ(rejected.candidates_size(), 0);

  // Metadata filter: only "south" people, so Pacheco is never a candidate.
  v1::IdentifyRequest filtered =
      IdentifyRequest("identify", Lfw("Abel_Pacheco/Abel_Pacheco_0004.jpg"), -1.0f, 10);
  (*filtered.mutable_metadata_filter())["site"] = "south";
  v1::IdentifyResponse south;
  ASSERT_TRUE(verification_->Identify(Context().get(), filtered, &south).ok());
  ASSERT_EQ(south.candidates_size(), 2);
  for (const auto& candidate : south.candidates()) {
    EXPECT_NE(candidate.identity_id(), "pacheco");
    EXPECT_EQ(candidate.metadata().at("site"), "south");
  }
}

TEST_F(GalleryTest, MatchAgainstEnrolledIdentity) {
  EnrollThreePeople("match");
  auto match = [](const std::string& identity) {
    v1::MatchRequest request;
    *request.mutable_probe() = Lfw("Abel_Pacheco/Abel_Pacheco_0004.jpg");
    request.mutable_reference_identity()->set_gallery("galleries/match");
    request.mutable_reference_identity()->set_identity_id(identity);
    request.mutable_decision()->set_threshold(0.5f);
    v1::MatchResponse response;
    const grpc::Status status = verification_->Match(Context().get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response;
  };
  const auto same = match("pacheco");
  const auto different = match("zakayev");
  EXPECT_GT(same.score(), different.score() + 0.03f);
  EXPECT_EQ(same.model(), "models/dlib-resnet");
  EXPECT_EQ(same.is_match(), same.score() >= 0.5f);

  // The same score as matching the enrolled image directly.
  v1::MatchRequest direct;
  *direct.mutable_probe() = Lfw("Abel_Pacheco/Abel_Pacheco_0004.jpg");
  *direct.mutable_reference_face() = Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg");
  direct.mutable_decision()->set_threshold(0.5f);
  v1::MatchResponse direct_response;
  ASSERT_TRUE(verification_->Match(Context().get(), direct, &direct_response).ok());
  EXPECT_NEAR(direct_response.score(), same.score(), 1e-4);

  v1::MatchRequest unknown;
  *unknown.mutable_probe() = Lfw("Abel_Pacheco/Abel_Pacheco_0004.jpg");
  unknown.mutable_reference_identity()->set_gallery("galleries/match");
  unknown.mutable_reference_identity()->set_identity_id("nobody");
  unknown.mutable_decision()->set_threshold(0.5f);
  v1::MatchResponse response;
  EXPECT_EQ(verification_->Match(Context().get(), unknown, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  unknown.mutable_reference_identity()->set_identity_id("pacheco");
  unknown.set_model("models/faceres");
  const grpc::Status mismatch = verification_->Match(Context().get(), unknown, &response);
  EXPECT_EQ(mismatch.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(mismatch.error_message().find("models/dlib-resnet"), std::string::npos);
}

// A gallery created with flip_average embeds its enrolled faces and every
// probe mirror-averaged, and decides FAR-based requests at thresholds
// measured on mirror-averaged embeddings only.
TEST_F(GalleryTest, MirrorAveragedGalleryEmbedsTemplatesAndProbesAlike) {
  v1::CreateGalleryRequest create;
  create.set_gallery_id("mirrored");
  create.mutable_gallery()->set_model("models/dlib-resnet");
  create.mutable_gallery()->set_flip_average(true);
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->CreateGallery(Context().get(), create, &gallery).ok());
  EXPECT_TRUE(gallery.flip_average());
  v1::GetGalleryRequest get;
  get.set_name("galleries/mirrored");
  ASSERT_TRUE(galleries_->GetGallery(Context().get(), get, &gallery).ok());
  EXPECT_TRUE(gallery.flip_average());
  ASSERT_TRUE(Enroll("mirrored", "pacheco", {Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg")}).ok());
  ASSERT_TRUE(Create("plain-beside-mirrored").ok());
  ASSERT_TRUE(
      Enroll("plain-beside-mirrored", "pacheco", {Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg")}).ok());

  const std::string probe_key = "Abel_Pacheco/Abel_Pacheco_0004.jpg";
  auto direct = [&probe_key](bool flip) {
    v1::MatchRequest request;
    *request.mutable_probe() = Lfw(probe_key);
    *request.mutable_reference_face() = Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg");
    request.mutable_decision()->set_threshold(0.5f);
    request.set_flip_average(flip);
    v1::MatchResponse response;
    EXPECT_TRUE(verification_->Match(Context().get(), request, &response).ok());
    return response.score();
  };
  const float mirrored_score = direct(true);
  const float plain_score = direct(false);
  ASSERT_GT(std::abs(mirrored_score - plain_score), 1e-3f);  // The mirror matters here.

  auto against_identity = [&probe_key](const std::string& gallery, bool flip,
                                       v1::MatchResponse* response) {
    v1::MatchRequest request;
    *request.mutable_probe() = Lfw(probe_key);
    request.mutable_reference_identity()->set_gallery("galleries/" + gallery);
    request.mutable_reference_identity()->set_identity_id("pacheco");
    request.mutable_decision()->set_threshold(0.5f);
    request.set_flip_average(flip);
    return verification_->Match(Context().get(), request, response);
  };
  // Template and probe mirror-averaged, whether or not the request says so:
  // the gallery decides.
  for (const bool flip : {false, true}) {
    v1::MatchResponse response;
    const grpc::Status status = against_identity("mirrored", flip, &response);
    ASSERT_TRUE(status.ok()) << status.error_message();
    EXPECT_NEAR(response.score(), mirrored_score, 1e-4);
  }
  v1::IdentifyResponse identified;
  ASSERT_TRUE(verification_
                  ->Identify(Context().get(), IdentifyRequest("mirrored", Lfw(probe_key), 0.5f),
                             &identified)
                  .ok());
  ASSERT_EQ(identified.candidates_size(), 1);
  EXPECT_NEAR(identified.candidates(0).score(), mirrored_score, 1e-4);
  // A plain gallery compares plain embeddings and refuses a mirrored probe.
  v1::MatchResponse plain;
  ASSERT_TRUE(against_identity("plain-beside-mirrored", false, &plain).ok());
  EXPECT_NEAR(plain.score(), plain_score, 1e-4);
  grpc::Status status = against_identity("plain-beside-mirrored", true, &plain);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("plain embeddings"), std::string::npos)
      << status.error_message();

  // FAR-based decisions: only a report of mirror-averaged embeddings serves.
  const std::string dir = server_->data_dir() + "/evaluations";
  std::filesystem::create_directories(dir + "/flip");
  v1::IdentifyRequest at_far = IdentifyRequest("mirrored", Lfw(probe_key), 0.0f);
  at_far.mutable_decision()->set_false_accept_rate(1e-3);
  status = verification_->Identify(Context().get(), at_far, &identified);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(status.error_message().find("--flip --report " + dir + "/flip/dlib-resnet.json"),
            std::string::npos)
      << status.error_message();
  std::ofstream(dir + "/flip/dlib-resnet.json") << R"({"flip": true, "metrics": {"tar_at_far": [
      {"far_target": 0.001, "far": 0.001, "tar": 0.97, "threshold": 0.4321, "measurable": true}
  ]}})";
  status = verification_->Identify(Context().get(), at_far, &identified);
  std::filesystem::remove(dir + "/flip/dlib-resnet.json");
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_FLOAT_EQ(identified.threshold(), 0.4321f);
  ASSERT_EQ(identified.candidates_size(), 1);
  EXPECT_FLOAT_EQ(identified.candidates(0).threshold(), 0.4321f);
}

TEST_F(GalleryTest, EnrollErrorPathsStoreNothing) {
  ASSERT_TRUE(Create("errors").ok());
  grpc::Status status = Enroll("nowhere", "a", {Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg")});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);

  v1::FaceInput garbage;
  garbage.set_image("not an image");
  status = Enroll("errors", "a", {Lfw("Abel_Pacheco/Abel_Pacheco_0001.jpg"), garbage});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("faces[1]"), std::string::npos) << status.error_message();

  v1::FaceInput faceless;
  faceless.set_image(FacelessBmp());
  status = Enroll("errors", "a", {faceless});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(status.error_message().find("faces[0]"), std::string::npos) << status.error_message();

  std::mt19937 rng(1);
  status = Enroll("errors", "a", {EmbeddingFace(RandomUnit(rng), "models/faceres")});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION) << status.error_message();
  status = Enroll("errors", "a", {EmbeddingFace(RandomUnit(rng, 64))});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << status.error_message();
  EXPECT_EQ(Enroll("errors", "a", {}).error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(Enroll("errors", "a/b", {EmbeddingFace(RandomUnit(rng))}).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  std::vector<v1::FaceInput> five(5, EmbeddingFace(RandomUnit(rng)));
  EXPECT_EQ(Enroll("errors", "a", five).error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  v1::GetGalleryRequest get;
  get.set_name("galleries/errors");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->GetGallery(Context().get(), get, &gallery).ok());
  EXPECT_EQ(gallery.identity_count(), 0) << "a failed enrol must store nothing";

  v1::RemoveIdentityRequest remove;
  remove.set_name("galleries/errors/identities/a");
  google::protobuf::Empty empty;
  EXPECT_EQ(galleries_->RemoveIdentity(Context().get(), remove, &empty).error_code(),
            grpc::StatusCode::NOT_FOUND);
  remove.set_name("galleries/errors/people/a");
  EXPECT_EQ(galleries_->RemoveIdentity(Context().get(), remove, &empty).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GalleryTest, IdentifyErrorPaths) {
  ASSERT_TRUE(Create("identify-errors").ok());
  std::mt19937 rng(2);
  v1::IdentifyResponse response;
  auto request = IdentifyRequest("nowhere", EmbeddingFace(RandomUnit(rng)), 0.5f);
  EXPECT_EQ(verification_->Identify(Context().get(), request, &response).error_code(),
            grpc::StatusCode::NOT_FOUND);
  request =
      IdentifyRequest("identify-errors", EmbeddingFace(RandomUnit(rng), "models/faceres"), 0.5f);
  EXPECT_EQ(verification_->Identify(Context().get(), request, &response).error_code(),
            grpc::StatusCode::FAILED_PRECONDITION);
  v1::FaceInput faceless;
  faceless.set_image(FacelessBmp());
  request = IdentifyRequest("identify-errors", faceless, 0.5f);
  const grpc::Status no_face = verification_->Identify(Context().get(), request, &response);
  EXPECT_EQ(no_face.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(no_face.error_message().find("probe"), std::string::npos);
  request = IdentifyRequest("identify-errors", EmbeddingFace(RandomUnit(rng)), 0.5f, -1);
  EXPECT_EQ(verification_->Identify(Context().get(), request, &response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
  // A false-accept rate needs the model's evaluation report; this server has none.
  request = IdentifyRequest("identify-errors", EmbeddingFace(RandomUnit(rng)), 0.5f);
  request.mutable_decision()->set_false_accept_rate(1e-3);
  const grpc::Status no_report = verification_->Identify(Context().get(), request, &response);
  EXPECT_EQ(no_report.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(no_report.error_message().find("bench lfw"), std::string::npos);
  // An empty gallery answers with no candidates.
  request = IdentifyRequest("identify-errors", EmbeddingFace(RandomUnit(rng)), -1.0f);
  ASSERT_TRUE(verification_->Identify(Context().get(), request, &response).ok());
  EXPECT_EQ(response.candidates_size(), 0);

  v1::BatchIdentifyRequest batch;
  batch.set_gallery("galleries/identify-errors");
  for (int i = 0; i < 5; ++i) *batch.add_probes() = EmbeddingFace(RandomUnit(rng));
  v1::BatchIdentifyResponse batch_response;
  EXPECT_EQ(verification_->BatchIdentify(Context().get(), batch, &batch_response).error_code(),
            grpc::StatusCode::INVALID_ARGUMENT);
}

TEST_F(GalleryTest, BatchIdentifyReportsEachProbe) {
  ASSERT_TRUE(Create("batch").ok());
  std::mt19937 rng(3);
  const auto alice = RandomUnit(rng);
  const auto bob = RandomUnit(rng);
  ASSERT_TRUE(Enroll("batch", "alice", {EmbeddingFace(alice)}).ok());
  ASSERT_TRUE(Enroll("batch", "bob", {EmbeddingFace(bob)}).ok());
  v1::BatchIdentifyRequest request;
  request.set_gallery("galleries/batch");
  request.set_top_k(1);
  request.mutable_decision()->set_threshold(0.9f);
  *request.add_probes() = EmbeddingFace(bob);
  request.add_probes()->set_image("garbage");
  *request.add_probes() = EmbeddingFace(alice);
  v1::BatchIdentifyResponse response;
  ASSERT_TRUE(verification_->BatchIdentify(Context().get(), request, &response).ok());
  ASSERT_EQ(response.results_size(), 3);
  EXPECT_EQ(response.results(0).status().code(), 0);
  ASSERT_EQ(response.results(0).response().candidates_size(), 1);
  EXPECT_EQ(response.results(0).response().candidates(0).identity_id(), "bob");
  EXPECT_NEAR(response.results(0).response().candidates(0).score(), 1.0, 1e-5);
  EXPECT_EQ(response.results(1).status().code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(response.results(2).response().candidates(0).identity_id(), "alice");
}

TEST_F(GalleryTest, ListAndRemoveIdentities) {
  ASSERT_TRUE(Create("listing").ok());
  std::mt19937 rng(4);
  std::map<std::string, std::vector<float>> people;
  for (const char* id : {"d", "b", "a", "c"}) {
    people[id] = RandomUnit(rng);
    v1::EnrollResponse enrolled;
    ASSERT_TRUE(Enroll("listing", id, {EmbeddingFace(people[id])}, {{"k", id}}, &enrolled).ok());
    EXPECT_EQ(enrolled.templates_added(), 1);
    EXPECT_EQ(enrolled.identity().name(), std::string("galleries/listing/identities/") + id);
  }
  // A second enrolment adds a template and merges metadata.
  v1::EnrollResponse again;
  ASSERT_TRUE(
      Enroll("listing", "a", {EmbeddingFace(RandomUnit(rng))}, {{"extra", "1"}}, &again).ok());
  EXPECT_EQ(again.identity().template_count(), 2);
  EXPECT_EQ(again.identity().metadata().at("k"), "a");
  EXPECT_EQ(again.identity().metadata().at("extra"), "1");

  v1::ListIdentitiesRequest list;
  list.set_gallery("galleries/listing");
  list.set_page_size(3);
  v1::ListIdentitiesResponse page;
  ASSERT_TRUE(galleries_->ListIdentities(Context().get(), list, &page).ok());
  ASSERT_EQ(page.identities_size(), 3);
  EXPECT_EQ(page.identities(0).identity_id(), "a");
  EXPECT_EQ(page.identities(2).identity_id(), "c");
  ASSERT_FALSE(page.next_page_token().empty());
  list.set_page_token(page.next_page_token());
  ASSERT_TRUE(galleries_->ListIdentities(Context().get(), list, &page).ok());
  ASSERT_EQ(page.identities_size(), 1);
  EXPECT_EQ(page.identities(0).identity_id(), "d");
  EXPECT_TRUE(page.next_page_token().empty());

  v1::RemoveIdentityRequest remove;
  remove.set_name("galleries/listing/identities/b");
  google::protobuf::Empty empty;
  ASSERT_TRUE(galleries_->RemoveIdentity(Context().get(), remove, &empty).ok());
  v1::IdentifyResponse response;
  ASSERT_TRUE(verification_
                  ->Identify(Context().get(),
                             IdentifyRequest("listing", EmbeddingFace(people["b"]), -1.0f, 10),
                             &response)
                  .ok());
  EXPECT_EQ(response.candidates_size(), 3);
  for (const auto& candidate : response.candidates()) EXPECT_NE(candidate.identity_id(), "b");

  list.set_gallery("galleries/nowhere");
  EXPECT_EQ(galleries_->ListIdentities(Context().get(), list, &page).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(GalleryTest, ConcurrentEnrollAndIdentifyStayConsistent) {
  ASSERT_TRUE(Create("concurrent").ok());
  constexpr int kWriters = 4;
  constexpr int kPerWriter = 15;
  std::vector<std::vector<std::vector<float>>> vectors(kWriters);
  std::mt19937 rng(5);
  for (auto& list : vectors) {
    for (int i = 0; i < kPerWriter; ++i) list.push_back(RandomUnit(rng));
  }
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::thread searcher([&] {
    while (!done) {
      v1::IdentifyResponse response;
      const auto& probe = vectors[searches % kWriters][0];
      const grpc::Status status = verification_->Identify(
          Context().get(), IdentifyRequest("concurrent", EmbeddingFace(probe), 0.99f, 1),
          &response);
      ASSERT_TRUE(status.ok()) << status.error_message();
      // Whatever has been enrolled so far: a hit at 0.99 can only be itself.
      if (response.candidates_size() == 1) {
        EXPECT_NEAR(response.candidates(0).score(), 1.0, 1e-4);
      }
      ++searches;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      for (int i = 0; i < kPerWriter; ++i) {
        const grpc::Status status =
            Enroll("concurrent", "w" + std::to_string(w) + "-" + std::to_string(i),
                   {EmbeddingFace(vectors[w][i])});
        EXPECT_TRUE(status.ok()) << status.error_message();
      }
    });
  }
  for (auto& writer : writers) writer.join();
  done = true;
  searcher.join();
  EXPECT_GT(searches.load(), 0);
  v1::GetGalleryRequest get;
  get.set_name("galleries/concurrent");
  v1::Gallery gallery;
  ASSERT_TRUE(galleries_->GetGallery(Context().get(), get, &gallery).ok());
  EXPECT_EQ(gallery.identity_count(), kWriters * kPerWriter);
  for (int w = 0; w < kWriters; ++w) {
    for (int i = 0; i < kPerWriter; ++i) {
      v1::IdentifyResponse response;
      ASSERT_TRUE(
          verification_
              ->Identify(Context().get(),
                         IdentifyRequest("concurrent", EmbeddingFace(vectors[w][i]), 0.99f, 1),
                         &response)
              .ok());
      ASSERT_EQ(response.candidates_size(), 1);
      EXPECT_EQ(response.candidates(0).identity_id(),
                "w" + std::to_string(w) + "-" + std::to_string(i));
    }
  }
}

TEST_F(GalleryTest, MetricsShowGallerySizesAndIdentifyOutcomes) {
  ASSERT_TRUE(Create("metrics").ok());
  std::mt19937 rng(6);
  const auto alice = RandomUnit(rng);
  ASSERT_TRUE(
      Enroll("metrics", "alice", {EmbeddingFace(alice), EmbeddingFace(RandomUnit(rng))}).ok());
  v1::IdentifyResponse response;
  ASSERT_TRUE(verification_
                  ->Identify(Context().get(),
                             IdentifyRequest("metrics", EmbeddingFace(alice), 0.9f), &response)
                  .ok());
  const std::string metrics = testing::HttpGet(server_->metrics_port(), "/metrics");
  EXPECT_NE(metrics.find("quantface_gallery_identities{gallery=\"metrics\"} 1"), std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("quantface_gallery_templates{gallery=\"metrics\"} 2"), std::string::npos);
  EXPECT_NE(metrics.find("quantface_gallery_templates_by_model{gallery=\"metrics\",model=\"models/"
                         "dlib-resnet\"} 2"),
            std::string::npos)
      << metrics;
  EXPECT_NE(metrics.find("quantface_identify_decisions_total{outcome=\"identified\"}"),
            std::string::npos);
  EXPECT_NE(metrics.find("quantface_identify_score_count"), std::string::npos);
}

TEST_F(GalleryTest, CliManagesGalleriesAndIdentifies) {
  auto cli = [](std::vector<std::string> args) {
    args.insert(args.begin(), {QF_CLI_BINARY, "--server", server_->grpc_target()});
    return testing::RunCommand(args);
  };
  const std::string dir = server_->data_dir() + "/cli";
  std::filesystem::create_directories(dir);
  std::mt19937 rng(7);
  const auto values = RandomUnit(rng);
  {
    std::ofstream out(dir + "/alice.json");
    out << "{\"model\": \"models/dlib-resnet\", \"values\": [";
    for (size_t i = 0; i < values.size(); ++i) out << (i ? "," : "") << values[i];
    out << "]}";
  }
  auto result = cli({"gallery", "create", "cli", "--model", "dlib-resnet"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  result = cli({"--json", "gallery", "create", "cli-mirrored", "--model", "dlib-resnet", "--flip"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("\"flip_average\":true"), std::string::npos) << result.out;
  result = cli({"gallery", "enroll", "cli", "alice", "embedding:" + dir + "/alice.json", "--meta",
                "team=red"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  result = cli({"--json", "gallery", "get", "cli"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("\"identity_count\":\"1\""), std::string::npos) << result.out;
  result = cli({"--json", "identify", "embedding:" + dir + "/alice.json", "--gallery", "cli",
                "--threshold", "0.9"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("\"identity_id\":\"alice\""), std::string::npos) << result.out;
  result = cli({"gallery", "identities", "cli"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  EXPECT_NE(result.out.find("alice"), std::string::npos);
  result = cli({"gallery", "remove", "cli", "alice"});
  ASSERT_EQ(result.exit_status, 0) << result.err;
  result = cli({"gallery", "remove", "cli", "alice"});
  EXPECT_EQ(result.exit_status, 1);
  EXPECT_NE(result.err.find("NOT_FOUND"), std::string::npos) << result.err;
  result = cli({"gallery", "delete", "cli"});
  EXPECT_EQ(result.exit_status, 0) << result.err;
  result = cli({"gallery", "get", "cli"});
  EXPECT_EQ(result.exit_status, 1);
}

// Durability: an acknowledged enrolment survives kill -9 of the server.
TEST(GalleryDurabilityTest, EnrolledIdentitiesSurviveKill9) {
  const std::string db = std::filesystem::temp_directory_path().string() + "/qf_gallery_kill9_" +
                         std::to_string(getpid()) + ".db";
  std::mt19937 rng(8);
  const auto alice = RandomUnit(rng);
  {
    testing::ServerProcess first({"--gallery-db=" + db});
    ASSERT_TRUE(first.Start().ok());
    auto channel = grpc::CreateChannel(first.grpc_target(), grpc::InsecureChannelCredentials());
    auto galleries = v1::GalleryService::NewStub(channel);
    v1::CreateGalleryRequest create;
    create.set_gallery_id("durable");
    create.mutable_gallery()->set_model("models/dlib-resnet");
    v1::Gallery gallery;
    ASSERT_TRUE(galleries->CreateGallery(Context().get(), create, &gallery).ok());
    v1::EnrollRequest enroll;
    enroll.set_gallery("galleries/durable");
    enroll.set_identity_id("alice");
    *enroll.add_faces() = EmbeddingFace(alice);
    v1::EnrollResponse enrolled;
    ASSERT_TRUE(galleries->Enroll(Context().get(), enroll, &enrolled).ok());
    EXPECT_EQ(first.Stop(SIGKILL), -SIGKILL);
  }
  testing::ServerProcess second({"--gallery-db=" + db});
  ASSERT_TRUE(second.Start().ok());
  auto channel = grpc::CreateChannel(second.grpc_target(), grpc::InsecureChannelCredentials());
  auto verification = v1::VerificationService::NewStub(channel);
  v1::IdentifyRequest request;
  request.set_gallery("galleries/durable");
  *request.mutable_probe() = EmbeddingFace(alice);
  request.mutable_decision()->set_threshold(0.99f);
  v1::IdentifyResponse response;
  const grpc::Status status = verification->Identify(Context().get(), request, &response);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(response.candidates_size(), 1);
  EXPECT_EQ(response.candidates(0).identity_id(), "alice");
  second.Stop();
  for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(db + suffix);
}

}  // namespace
}  // namespace qf
