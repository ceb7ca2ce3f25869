#include "server/services/verification_service.h"

#include "absl/strings/str_cat.h"
#include "server/face_batch.h"
#include "server/grpc_status.h"

namespace qf::server {
namespace {

constexpr double kDefaultFalseAcceptRate = 1e-3;

void FillFace(const detect::DetectedFace& face, v1::DetectedFace& out) {
  out.mutable_box()->set_x(face.box.x);
  out.mutable_box()->set_y(face.box.y);
  out.mutable_box()->set_width(face.box.width);
  out.mutable_box()->set_height(face.box.height);
  out.set_confidence(face.score);
  for (const auto& point : face.landmarks) {
    auto* landmark = out.add_landmarks();
    landmark->set_x(point.x);
    landmark->set_y(point.y);
  }
}

void FillEmbed(const FaceResult& result, const std::string& model, v1::EmbedResponse& out) {
  out.mutable_embedding()->set_model(model);
  out.mutable_embedding()->mutable_values()->Assign(result.embedding.begin(),
                                                    result.embedding.end());
  if (result.detected.has_value()) FillFace(*result.detected, *out.mutable_face());
}

void FillItemStatus(const absl::Status& status, v1::ItemStatus& out) {
  out.set_code(static_cast<int>(status.code()));
  out.set_message(std::string(status.message()));
}

absl::Status TooMany(int count, int limit) {
  return absl::InvalidArgumentError(
      absl::StrCat("batch has ", count, " items; this server accepts at most ", limit));
}

}  // namespace

VerificationService::VerificationService(ModelHub& models, int max_batch_items,
                                         prometheus::Registry& registry)
    : models_(models),
      max_batch_items_(max_batch_items),
      decisions_(prometheus::BuildCounter()
                     .Name("quantface_match_decisions_total")
                     .Help("1:1 match decisions, by model and outcome (match / no_match).")
                     .Register(registry)),
      scores_(prometheus::BuildHistogram()
                  .Name("quantface_match_score")
                  .Help("Cosine similarity of 1:1 match pairs.")
                  .Register(registry)
                  .Add({}, prometheus::Histogram::BucketBoundaries{
                               -0.2, 0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0})) {}

grpc::Status VerificationService::Embed(grpc::ServerContext*, const v1::EmbedRequest* request,
                                        v1::EmbedResponse* response) {
  auto id = models_.Resolve(request->model());
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto embedder = models_.Embedder(*id);
  if (!embedder.ok()) return ToGrpcStatus(embedder.status());
  if (request->face().has_embedding()) {
    return ToGrpcStatus(absl::InvalidArgumentError("Embed needs an image, not an embedding"));
  }
  const std::string model = ModelHub::ResourceName(*id);
  const auto results =
      EmbedFaces({&request->face()}, **embedder, model, decoder_, request->flip_average());
  if (!results[0].status.ok()) return ToGrpcStatus(results[0].status);
  FillEmbed(results[0], model, *response);
  return grpc::Status::OK;
}

grpc::Status VerificationService::BatchEmbed(grpc::ServerContext*,
                                             const v1::BatchEmbedRequest* request,
                                             v1::BatchEmbedResponse* response) {
  if (request->faces_size() > max_batch_items_) {
    return ToGrpcStatus(TooMany(request->faces_size(), max_batch_items_));
  }
  auto id = models_.Resolve(request->model());
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto embedder = models_.Embedder(*id);
  if (!embedder.ok()) return ToGrpcStatus(embedder.status());
  const std::string model = ModelHub::ResourceName(*id);
  std::vector<const v1::FaceInput*> faces;
  for (const auto& face : request->faces()) faces.push_back(&face);
  const auto results = EmbedFaces(faces, **embedder, model, decoder_, request->flip_average());
  for (size_t i = 0; i < results.size(); ++i) {
    v1::EmbedResult* out = response->add_results();
    absl::Status status = results[i].status;
    if (status.ok() && faces[i]->has_embedding()) {
      status = absl::InvalidArgumentError("BatchEmbed needs images, not embeddings");
    }
    FillItemStatus(status, *out->mutable_status());
    if (status.ok()) FillEmbed(results[i], model, *out->mutable_response());
  }
  return grpc::Status::OK;
}

absl::Status VerificationService::MatchOne(const v1::MatchRequest& request,
                                           v1::MatchResponse& response) {
  if (request.has_reference_identity()) {
    return absl::UnimplementedError(
        "Match against an enrolled identity needs quantface.v1.GalleryService, which is not "
        "implemented yet in this server version");
  }
  if (!request.has_reference_face()) {
    return absl::InvalidArgumentError("Match needs reference_face or reference_identity");
  }
  if (request.probe().source_case() == v1::FaceInput::SOURCE_NOT_SET) {
    return absl::InvalidArgumentError("Match needs a probe face");
  }
  auto id = models_.Resolve(request.model());
  if (!id.ok()) return id.status();
  // Decide how before the expensive part, so a bad policy costs nothing.
  float threshold = 0;
  double far = 0;
  if (request.decision().policy_case() == v1::DecisionPolicy::kThreshold) {
    threshold = request.decision().threshold();
    if (!std::isfinite(threshold)) return absl::InvalidArgumentError("threshold is not finite");
  } else {
    const double target = request.decision().policy_case() == v1::DecisionPolicy::kFalseAcceptRate
                              ? request.decision().false_accept_rate()
                              : kDefaultFalseAcceptRate;
    if (!(target > 0 && target < 1)) {
      return absl::InvalidArgumentError("false_accept_rate must be in (0, 1)");
    }
    auto points = models_.OperatingPointsFor(*id);
    if (!points.ok()) return points.status();
    auto point = points->ForFar(target);
    if (!point.ok()) return point.status();
    threshold = point->threshold;
    far = point->far_target;
  }
  auto embedder = models_.Embedder(*id);
  if (!embedder.ok()) return embedder.status();
  const std::string model = ModelHub::ResourceName(*id);
  const auto results = EmbedFaces({&request.probe(), &request.reference_face()}, **embedder, model,
                                  decoder_, /*flip=*/false);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].status.ok()) {
      return absl::Status(
          results[i].status.code(),
          absl::StrCat(i == 0 ? "probe: " : "reference_face: ", results[i].status.message()));
    }
  }
  const float score = Cosine(results[0].embedding, results[1].embedding);
  const bool is_match = score >= threshold;
  response.set_score(score);
  response.set_is_match(is_match);
  response.set_threshold(threshold);
  response.set_false_accept_rate(far);
  response.set_model(model);
  decisions_.Add({{"model", model}, {"outcome", is_match ? "match" : "no_match"}}).Increment();
  scores_.Observe(score);
  return absl::OkStatus();
}

grpc::Status VerificationService::Match(grpc::ServerContext*, const v1::MatchRequest* request,
                                        v1::MatchResponse* response) {
  return ToGrpcStatus(MatchOne(*request, *response));
}

grpc::Status VerificationService::BatchMatch(grpc::ServerContext* context,
                                             const v1::BatchMatchRequest* request,
                                             v1::BatchMatchResponse* response) {
  if (request->requests_size() > max_batch_items_) {
    return ToGrpcStatus(TooMany(request->requests_size(), max_batch_items_));
  }
  for (const v1::MatchRequest& pair : request->requests()) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    v1::MatchResult* result = response->add_results();
    const absl::Status status = MatchOne(pair, *result->mutable_response());
    FillItemStatus(status, *result->mutable_status());
    if (!status.ok()) result->clear_response();
  }
  return grpc::Status::OK;
}

grpc::Status VerificationService::Identify(grpc::ServerContext*, const v1::IdentifyRequest*,
                                           v1::IdentifyResponse*) {
  return Unimplemented("quantface.v1.VerificationService/Identify");
}

grpc::Status VerificationService::BatchIdentify(grpc::ServerContext*,
                                                const v1::BatchIdentifyRequest*,
                                                v1::BatchIdentifyResponse*) {
  return Unimplemented("quantface.v1.VerificationService/BatchIdentify");
}

}  // namespace qf::server
