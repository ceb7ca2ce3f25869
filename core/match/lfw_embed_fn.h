// The EmbedFn that core/eval's LFW driver calls, built from a FaceEmbedder:
// read and decode each image file, align it (to the dataset's landmarks, or to
// the detector's when the item has none), embed the batch.
#ifndef QUANTFACE_CORE_MATCH_LFW_EMBED_FN_H_
#define QUANTFACE_CORE_MATCH_LFW_EMBED_FN_H_

#include "core/eval/lfw_verification.h"
#include "core/image/decoder.h"
#include "core/match/face_embedder.h"

namespace qf::match {

// Both arguments must outlive the returned function.
eval::EmbedFn MakeFileEmbedFn(const FaceEmbedder& embedder, const image::Decoder& decoder);

}  // namespace qf::match

#endif  // QUANTFACE_CORE_MATCH_LFW_EMBED_FN_H_
