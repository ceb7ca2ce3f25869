// Micro-batching over real gRPC: concurrent Match calls to a server with
// micro-batching on, plain or mirror-averaged, share forward passes (the
// batch-size histogram shows fewer forwards than calls) and get the same
// scores as a server with it off.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <future>
#include <regex>
#include <sstream>

#include "quantface/v1/verification.grpc.pb.h"
#include "tests/integration/lfw_faces.h"
#include "tests/integration/server_process.h"

namespace qf {
namespace {

namespace v1 = ::quantface::v1;

std::vector<v1::FaceInput> Faces() {
  return {testing::PachecoA(), testing::PachecoB(), testing::Zakayev()};
}

// Pairs (i, j) of Faces(), cycled so every call differs from its neighbours.
std::vector<std::pair<int, int>> Pairs(int count) {
  const std::vector<std::pair<int, int>> base = {{0, 1}, {0, 2}, {1, 2}, {1, 0}, {2, 0}, {2, 1}};
  std::vector<std::pair<int, int>> pairs;
  for (int i = 0; i < count; ++i) pairs.push_back(base[i % base.size()]);
  return pairs;
}

float MatchScore(v1::VerificationService::Stub& stub, const v1::FaceInput& a,
                 const v1::FaceInput& b, bool flip) {
  v1::MatchRequest request;
  *request.mutable_probe() = a;
  *request.mutable_reference_face() = b;
  request.mutable_decision()->set_threshold(0.5f);
  request.set_flip_average(flip);
  v1::MatchResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
  const grpc::Status status = stub.Match(&context, request, &response);
  EXPECT_TRUE(status.ok()) << status.error_message();
  return response.score();
}

// quantface_embed_batch_size_<suffix>{model="models/dlib-resnet"...} from /metrics.
double HistogramValue(int metrics_port, const std::string& suffix) {
  const std::string text = testing::HttpGet(metrics_port, "/metrics");
  const std::regex line("quantface_embed_batch_size_" + suffix +
                        "\\{model=\"models/dlib-resnet\"\\} ([0-9.e+]+)");
  std::smatch match;
  if (!std::regex_search(text, match, line)) return -1;
  return std::stod(match[1]);
}

// Concurrent Match calls (mirror-averaged ones with `flip`) on a server with
// micro-batching on share forward passes and score as one call at a time on
// a server with it off.
void ExpectBatchedMatchesScoreAsUnbatched(bool flip) {
  constexpr int kCalls = 12;
  const auto faces = Faces();
  const auto pairs = Pairs(kCalls);
  // Images per call: two faces, each with its mirror when flip.
  const int images = flip ? 4 : 2;

  // Reference: micro-batching off, one call at a time.
  std::vector<float> expected;
  {
    testing::ServerProcess plain({"--micro-batch-max-wait-us=0"});
    ASSERT_TRUE(plain.Start().ok());
    auto stub = v1::VerificationService::NewStub(
        grpc::CreateChannel(plain.grpc_target(), grpc::InsecureChannelCredentials()));
    for (const auto& [a, b] : pairs) {
      expected.push_back(MatchScore(*stub, faces[a], faces[b], flip));
    }
    // Off: every call ran its own forward of its images.
    EXPECT_EQ(HistogramValue(plain.metrics_port(), "count"), kCalls);
    EXPECT_EQ(HistogramValue(plain.metrics_port(), "sum"), images * kCalls);
  }

  // Batching on (a generous window, so the calls surely meet), all at once.
  testing::ServerProcess batched({"--micro-batch-max-wait-us=200000", "--micro-batch-max-size=64"});
  ASSERT_TRUE(batched.Start().ok());
  auto stub = v1::VerificationService::NewStub(
      grpc::CreateChannel(batched.grpc_target(), grpc::InsecureChannelCredentials()));
  MatchScore(*stub, faces[0], faces[1], flip);  // Loads the model before the race.
  std::vector<std::future<float>> calls;
  for (const auto& [a, b] : pairs) {
    calls.push_back(std::async(std::launch::async, [&stub, &faces, a = a, b = b, flip] {
      return MatchScore(*stub, faces[a], faces[b], flip);
    }));
  }
  for (int i = 0; i < kCalls; ++i) {
    EXPECT_NEAR(calls[i].get(), expected[i], 1e-4) << "call " << i;
  }
  // All images went through the batcher (1 warm-up call + kCalls), in fewer
  // forwards than calls: some calls shared one.
  EXPECT_EQ(HistogramValue(batched.metrics_port(), "sum"), images * (kCalls + 1));
  const double forwards = HistogramValue(batched.metrics_port(), "count");
  EXPECT_GE(forwards, 2);
  EXPECT_LT(forwards, kCalls + 1);
}

TEST(MicroBatchTest, ConcurrentMatchesShareForwardsAndScoreAsWithoutBatching) {
  ExpectBatchedMatchesScoreAsUnbatched(/*flip=*/false);
}

// A face and its mirror ride in the same shared forward; the normalized sum
// of their rows is what the unbatched flip forward computes.
TEST(MicroBatchTest, MirrorAveragedMatchesShareForwardsAndScoreAsWithoutBatching) {
  ExpectBatchedMatchesScoreAsUnbatched(/*flip=*/true);
}

TEST(MicroBatchTest, BadBatchSettingsAreRefusedAtStartUp) {
  testing::ServerProcess bad({"--micro-batch-max-wait-us=-1"});
  EXPECT_FALSE(bad.Start(std::chrono::seconds(20)).ok());
  testing::ServerProcess bad_size({"--micro-batch-max-size=0"});
  EXPECT_FALSE(bad_size.Start(std::chrono::seconds(20)).ok());
}

}  // namespace
}  // namespace qf
