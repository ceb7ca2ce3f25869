// FaceBatch: the faces of one request (FaceInput protos) turned into
// L2-normalized embeddings of one model, with one model forward pass for all
// the image inputs.
//
// Contract: Embed() returns one FaceResult per input, in order. Image inputs
// are decoded, detected (when they carry no landmarks) and aligned; embedding
// inputs are checked to come from the same model and to have its dimension,
// then normalized. A bad input fails only its own entry (INVALID_ARGUMENT with
// the reason, FAILED_PRECONDITION for an embedding of another model); an
// error of the model itself fails every image entry, and so does a deadline
// or cancellation (`control`) while the faces wait for a micro-batch. With
// `flip` (mirror averaging) each crop's mirror joins the same request, so a
// mirror-averaged face takes two rows of a shared forward (the batch-size
// histogram counts both), and its embedding is the normalized sum of the two.
#ifndef QUANTFACE_SERVER_FACE_BATCH_H_
#define QUANTFACE_SERVER_FACE_BATCH_H_

#include <optional>
#include <vector>

#include "absl/status/status.h"
#include "core/image/decoder.h"
#include "core/match/face_embedder.h"
#include "quantface/v1/common.pb.h"
#include "server/micro_batcher.h"
#include "server/model_hub.h"

namespace qf::server {

struct FaceResult {
  absl::Status status;
  std::vector<float> embedding;
  std::optional<detect::DetectedFace> detected;
};

std::vector<FaceResult> EmbedFaces(const std::vector<const quantface::v1::FaceInput*>& faces,
                                   const ServedModel& served, const std::string& model_name,
                                   const image::Decoder& decoder, bool flip,
                                   const CallControl& control);

// Cosine similarity of two L2-normalized vectors of equal length.
float Cosine(const std::vector<float>& a, const std::vector<float>& b);

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_FACE_BATCH_H_
