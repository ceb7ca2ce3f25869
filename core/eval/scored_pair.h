// ScoredPair: one verification trial, the input of every metric in core/eval.
//
// Convention used throughout core/eval: a higher score means "more likely the
// same person" (cosine similarity), and a pair is declared "same" when
// score >= threshold. Folds are arbitrary integer ids (LFW uses 1..10).
#ifndef QUANTFACE_CORE_EVAL_SCORED_PAIR_H_
#define QUANTFACE_CORE_EVAL_SCORED_PAIR_H_

namespace qf::eval {

struct ScoredPair {
  double score = 0;
  bool is_same = false;
  int fold = 0;
};

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_SCORED_PAIR_H_
