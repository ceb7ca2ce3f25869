#include "server/services/verification_service.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"
#include "server/call_control.h"
#include "server/decision_policy.h"
#include "server/face_batch.h"
#include "server/gallery_names.h"
#include "server/grpc_status.h"

namespace qf::server {
namespace {

constexpr int kDefaultTopK = 10;
constexpr int kMaxTopK = 1000;

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

VerificationService::VerificationService(ModelHub& models, gallery::Galleries& galleries,
                                         GalleryMetrics& gallery_metrics, int max_batch_items,
                                         prometheus::Registry& registry)
    : models_(models),
      galleries_(galleries),
      gallery_metrics_(gallery_metrics),
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

grpc::Status VerificationService::Embed(grpc::ServerContext* context,
                                        const v1::EmbedRequest* request,
                                        v1::EmbedResponse* response) {
  auto id = models_.Resolve(request->model());
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto served = models_.Serve(*id);
  if (!served.ok()) return ToGrpcStatus(served.status());
  if (request->face().has_embedding()) {
    return ToGrpcStatus(absl::InvalidArgumentError("Embed needs an image, not an embedding"));
  }
  const std::string model = ModelHub::ResourceName(*id);
  const auto results = EmbedFaces({&request->face()}, *served, model, decoder_,
                                  request->flip_average(), ControlOf(*context));
  if (!results[0].status.ok()) return ToGrpcStatus(results[0].status);
  FillEmbed(results[0], model, *response);
  return grpc::Status::OK;
}

grpc::Status VerificationService::BatchEmbed(grpc::ServerContext* context,
                                             const v1::BatchEmbedRequest* request,
                                             v1::BatchEmbedResponse* response) {
  if (request->faces_size() > max_batch_items_) {
    return ToGrpcStatus(TooMany(request->faces_size(), max_batch_items_));
  }
  auto id = models_.Resolve(request->model());
  if (!id.ok()) return ToGrpcStatus(id.status());
  auto served = models_.Serve(*id);
  if (!served.ok()) return ToGrpcStatus(served.status());
  const std::string model = ModelHub::ResourceName(*id);
  std::vector<const v1::FaceInput*> faces;
  for (const auto& face : request->faces()) faces.push_back(&face);
  const auto results =
      EmbedFaces(faces, *served, model, decoder_, request->flip_average(), ControlOf(*context));
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

void VerificationService::Answer(const std::string& model, float score, bool is_match,
                                 const Decision& decision, v1::MatchResponse& response) {
  response.set_score(score);
  response.set_is_match(is_match);
  response.set_threshold(decision.threshold);
  response.set_false_accept_rate(decision.false_accept_rate);
  response.set_model(model);
  decisions_.Add({{"model", model}, {"outcome", is_match ? "match" : "no_match"}}).Increment();
  scores_.Observe(score);
}

absl::Status VerificationService::MatchOne(const v1::MatchRequest& request,
                                           v1::MatchResponse& response,
                                           const CallControl& control) {
  if (request.probe().source_case() == v1::FaceInput::SOURCE_NOT_SET) {
    return absl::InvalidArgumentError("Match needs a probe face");
  }
  if (request.has_reference_identity()) return MatchIdentity(request, response, control);
  if (!request.has_reference_face()) {
    return absl::InvalidArgumentError("Match needs reference_face or reference_identity");
  }
  QF_ASSIGN_OR_RETURN(const std::string id, models_.Resolve(request.model()));
  // Decide how before the expensive part, so a bad policy costs nothing.
  QF_ASSIGN_OR_RETURN(const Decision decision,
                      ResolveDecision(request.decision(), models_, id, request.flip_average()));
  QF_ASSIGN_OR_RETURN(const ServedModel served, models_.Serve(id));
  const std::string model = ModelHub::ResourceName(id);
  const auto results = EmbedFaces({&request.probe(), &request.reference_face()}, served, model,
                                  decoder_, request.flip_average(), control);
  for (size_t i = 0; i < results.size(); ++i) {
    if (!results[i].status.ok()) {
      return absl::Status(
          results[i].status.code(),
          absl::StrCat(i == 0 ? "probe: " : "reference_face: ", results[i].status.message()));
    }
  }
  const float score = Cosine(results[0].embedding, results[1].embedding);
  const bool is_match = score >= decision.threshold;
  Answer(model, score, is_match, decision, response);
  return absl::OkStatus();
}

absl::Status VerificationService::MatchIdentity(const v1::MatchRequest& request,
                                                v1::MatchResponse& response,
                                                const CallControl& control) {
  const v1::IdentityReference& reference = request.reference_identity();
  QF_ASSIGN_OR_RETURN(const std::string gallery_id,
                      ParseGalleryName(reference.gallery(), "reference_identity.gallery"));
  QF_ASSIGN_OR_RETURN(auto index, galleries_.Index(gallery_id));
  // The gallery decides how its probes are embedded: like its templates.
  const bool flip = index->gallery().flip_average;
  if (request.flip_average() && !flip) {
    return absl::InvalidArgumentError(absl::StrCat(
        "flip_average: gallery galleries/", gallery_id,
        " holds plain embeddings, and a mirror-averaged probe against them has no measured "
        "threshold; create the gallery with flip_average to match that way"));
  }
  const std::string& model = index->gallery().model;
  if (!request.model().empty()) {
    QF_ASSIGN_OR_RETURN(const std::string requested, models_.Resolve(request.model()));
    if (ModelHub::ResourceName(requested) != model) {
      return absl::FailedPreconditionError(
          absl::StrCat("model ", request.model(), " cannot be compared with gallery galleries/",
                       gallery_id, ", whose templates come from ", model));
    }
  }
  QF_ASSIGN_OR_RETURN(const std::string id, models_.Resolve(model));
  QF_ASSIGN_OR_RETURN(auto templates,
                      galleries_.IdentityTemplates(gallery_id, reference.identity_id()));
  std::vector<std::string> template_models;
  for (const auto& record : templates) template_models.push_back(record.model);
  QF_ASSIGN_OR_RETURN(const auto decisions, ResolveTemplateDecisions(request.decision(), models_,
                                                                     id, template_models, flip));
  QF_ASSIGN_OR_RETURN(const ServedModel served, models_.Serve(id));
  const auto results = EmbedFaces({&request.probe()}, served, model, decoder_, flip, control);
  if (!results[0].status.ok()) {
    return absl::Status(results[0].status.code(),
                        absl::StrCat("probe: ", results[0].status.message()));
  }
  // The deciding template is the one furthest above its own threshold.
  float score = -1;
  Decision decision = decisions.at(model);
  std::string reference_model = model;
  bool decided = false;
  for (const auto& record : templates) {
    const float candidate = Cosine(results[0].embedding, record.embedding);
    const Decision& threshold = decisions.at(record.model);
    if (decided && candidate - threshold.threshold <= score - decision.threshold) continue;
    score = candidate;
    decision = threshold;
    reference_model = record.model;
    decided = true;
  }
  const bool is_match = decided && score >= decision.threshold;
  Answer(model, score, is_match, decision, response);
  response.set_reference_model(reference_model);
  return absl::OkStatus();
}

grpc::Status VerificationService::Match(grpc::ServerContext* context,
                                        const v1::MatchRequest* request,
                                        v1::MatchResponse* response) {
  return ToGrpcStatus(MatchOne(*request, *response, ControlOf(*context)));
}

grpc::Status VerificationService::BatchMatch(grpc::ServerContext* context,
                                             const v1::BatchMatchRequest* request,
                                             v1::BatchMatchResponse* response) {
  if (request->requests_size() > max_batch_items_) {
    return ToGrpcStatus(TooMany(request->requests_size(), max_batch_items_));
  }
  const CallControl control = ControlOf(*context);
  for (const v1::MatchRequest& pair : request->requests()) {
    if (context->IsCancelled()) return grpc::Status(grpc::StatusCode::CANCELLED, "cancelled");
    v1::MatchResult* result = response->add_results();
    const absl::Status status = MatchOne(pair, *result->mutable_response(), control);
    FillItemStatus(status, *result->mutable_status());
    if (!status.ok()) result->clear_response();
  }
  return grpc::Status::OK;
}

absl::Status VerificationService::IdentifyProbes(
    grpc::ServerContext& context, const std::string& gallery,
    const std::vector<const v1::FaceInput*>& probes, int top_k, const v1::DecisionPolicy& policy,
    const google::protobuf::Map<std::string, std::string>& filter,
    std::vector<absl::Status>& statuses, std::vector<v1::IdentifyResponse>& responses) {
  QF_ASSIGN_OR_RETURN(const std::string gallery_id, ParseGalleryName(gallery, "gallery"));
  if (top_k < 0 || top_k > kMaxTopK) {
    return absl::InvalidArgumentError(
        absl::StrCat("top_k must be in [0, ", kMaxTopK, "] (0 means ", kDefaultTopK, ")"));
  }
  const int k = top_k == 0 ? kDefaultTopK : top_k;
  QF_ASSIGN_OR_RETURN(auto index, galleries_.Index(gallery_id));
  const std::string& model = index->gallery().model;
  auto id = models_.Resolve(model);
  if (!id.ok()) {
    return absl::FailedPreconditionError(
        absl::StrCat("gallery galleries/", gallery_id, " uses ", model,
                     ", which is not served: ", id.status().message()));
  }
  std::vector<std::string> template_models;
  for (const auto& [template_model, count] : index->template_models()) {
    template_models.push_back(template_model);
  }
  const bool flip = index->gallery().flip_average;  // Probes are embedded like its templates.
  QF_ASSIGN_OR_RETURN(const auto decisions,
                      ResolveTemplateDecisions(policy, models_, *id, template_models, flip));
  gallery::ThresholdByModel thresholds;
  for (const auto& [template_model, decision] : decisions) {
    thresholds[template_model] = decision.threshold;
  }
  const Decision& decision = decisions.at(model);
  QF_ASSIGN_OR_RETURN(const ServedModel served, models_.Serve(*id));
  if (context.IsCancelled()) return absl::CancelledError("cancelled");
  const auto embedded = EmbedFaces(probes, served, model, decoder_, flip, ControlOf(context));
  statuses.assign(probes.size(), absl::OkStatus());
  responses.assign(probes.size(), v1::IdentifyResponse());
  std::vector<std::vector<float>> queries;
  std::vector<size_t> owner;
  for (size_t i = 0; i < embedded.size(); ++i) {
    if (probes[i]->source_case() == v1::FaceInput::SOURCE_NOT_SET) {
      statuses[i] = absl::InvalidArgumentError("probe has no face");
    } else if (!embedded[i].status.ok()) {
      statuses[i] = embedded[i].status;
    } else {
      queries.push_back(embedded[i].embedding);
      owner.push_back(i);
    }
  }
  if (context.IsCancelled()) return absl::CancelledError("cancelled");
  const gallery::Metadata wanted(filter.begin(), filter.end());
  QF_ASSIGN_OR_RETURN(auto found, index->Identify(queries, k, wanted, thresholds));
  for (size_t q = 0; q < found.size(); ++q) {
    v1::IdentifyResponse& response = responses[owner[q]];
    response.set_threshold(decision.threshold);
    response.set_false_accept_rate(decision.false_accept_rate);
    for (const gallery::Candidate& candidate : found[q]) {
      if (candidate.score < candidate.threshold) break;  // best margin first
      v1::Candidate* out = response.add_candidates();
      out->set_identity_id(candidate.identity_id);
      out->set_score(candidate.score);
      out->set_threshold(candidate.threshold);
      out->set_template_model(candidate.template_model);
      out->set_display_name(candidate.display_name);
      out->mutable_metadata()->insert(candidate.metadata.begin(), candidate.metadata.end());
    }
    gallery_metrics_.Identified(response.candidates_size() > 0,
                                found[q].empty() ? std::nanf("") : found[q][0].score);
  }
  return absl::OkStatus();
}

grpc::Status VerificationService::Identify(grpc::ServerContext* context,
                                           const v1::IdentifyRequest* request,
                                           v1::IdentifyResponse* response) {
  if (request->probe().source_case() == v1::FaceInput::SOURCE_NOT_SET) {
    return ToGrpcStatus(absl::InvalidArgumentError("Identify needs a probe face"));
  }
  std::vector<absl::Status> statuses;
  std::vector<v1::IdentifyResponse> responses;
  const absl::Status status =
      IdentifyProbes(*context, request->gallery(), {&request->probe()}, request->top_k(),
                     request->decision(), request->metadata_filter(), statuses, responses);
  if (!status.ok()) return ToGrpcStatus(status);
  if (!statuses[0].ok()) {
    return ToGrpcStatus(
        absl::Status(statuses[0].code(), absl::StrCat("probe: ", statuses[0].message())));
  }
  *response = std::move(responses[0]);
  return grpc::Status::OK;
}

grpc::Status VerificationService::BatchIdentify(grpc::ServerContext* context,
                                                const v1::BatchIdentifyRequest* request,
                                                v1::BatchIdentifyResponse* response) {
  if (request->probes_size() > max_batch_items_) {
    return ToGrpcStatus(TooMany(request->probes_size(), max_batch_items_));
  }
  if (request->probes().empty()) {
    return ToGrpcStatus(absl::InvalidArgumentError("probes: at least one is needed"));
  }
  std::vector<const v1::FaceInput*> probes;
  for (const auto& probe : request->probes()) probes.push_back(&probe);
  std::vector<absl::Status> statuses;
  std::vector<v1::IdentifyResponse> responses;
  const absl::Status status =
      IdentifyProbes(*context, request->gallery(), probes, request->top_k(), request->decision(),
                     request->metadata_filter(), statuses, responses);
  if (!status.ok()) return ToGrpcStatus(status);
  for (size_t i = 0; i < probes.size(); ++i) {
    v1::IdentifyResult* result = response->add_results();
    FillItemStatus(statuses[i], *result->mutable_status());
    if (statuses[i].ok()) *result->mutable_response() = std::move(responses[i]);
  }
  return grpc::Status::OK;
}

}  // namespace qf::server
