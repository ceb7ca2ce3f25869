// Names of the LFW evaluation protocols, as reports ("benchmark"), the
// server's job configs (evaluation_protocol) and the registry's evaluation
// summaries ("protocol") spell them. Header-only and free of LibTorch, so
// that the registry's store (which has no LibTorch) can name them too.
#ifndef QUANTFACE_CORE_EVAL_PROTOCOL_NAMES_H_
#define QUANTFACE_CORE_EVAL_PROTOCOL_NAMES_H_

namespace qf::eval {

// LFW View 2: 6,000 pairs in 10 folds (lfw_verification.h).
inline constexpr char kLfwView2Protocol[] = "lfw";
// Every pair of the first images of each person (lfw_all_pairs.h).
inline constexpr char kLfwAllPairsBenchmark[] = "lfw-all-pairs";

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_PROTOCOL_NAMES_H_
