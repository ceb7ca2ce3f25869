// RunLfwAllPairs: TAR at low FARs on LFW over every pair of images, not
// only View 2's 6,000 pairs (all_pairs_tar.h says why).
//
// Protocol: every person of people.txt with the first max_images_per_person
// of their images (by number; images without landmarks, e.g. the one image
// missing from the folder, are skipped and counted); every pair of these
// images is a trial. The cap keeps a few people from making the TAR: without
// it George W. Bush's 530 images would give 140,000 of LFW's 242,000 same-
// person pairs; with 10 the 10,489 images give 14,508 same pairs from 1,680
// people and about 55 million different pairs. Groups are people.txt's ten
// person-disjoint folds; the spread of TAR over them gives its standard
// error. Faces are aligned to the dataset's five landmarks, as in View 2.
// Like the LFW-based BLUFR protocol (Liao et al., IJCB 2014) in spirit,
// without its published image lists, which are not in the dataset folder.
//
// Contract: FailedPreconditionError when the dataset was loaded without
// people or landmarks; InvalidArgumentError for max_images_per_person < 2,
// max_people < 0 or a name listed in two folds (identities are names);
// embedding and scoring errors as in embed_items.h and all_pairs_tar.h.
#ifndef QUANTFACE_CORE_EVAL_LFW_ALL_PAIRS_H_
#define QUANTFACE_CORE_EVAL_LFW_ALL_PAIRS_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "core/eval/all_pairs_tar.h"
#include "core/eval/embed_items.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/protocol_names.h"

namespace qf::eval {

struct LfwAllPairsOptions {
  int max_images_per_person = 10;
  int max_people = 0;  // The first N people of people.txt; 0 = everyone (tests use a few).
  std::vector<double> far_targets = {1e-2, 1e-3, 1e-4, 1e-5};
  std::vector<double> thresholds;  // Rates at these too (AllPairsTar::at_threshold).
  int batch_size = 32;
  bool flip = false;
  std::function<void(std::size_t done, std::size_t total)> progress;
  std::function<bool()> should_stop{};  // Polled per batch (EmbedItemsOptions).
  // Also list the N highest-scoring impostor pairs (TopDifferentPairs): what
  // the thresholds at the lowest FARs rest on. 0: none.
  int top_impostors = 0;
};

struct LfwAllPairsImage {
  std::string key;  // LfwImageKey: "NAME/NAME_NNNN.jpg".
  int person = 0;   // Index in dataset.people.
  int fold = 0;     // The person's people.txt fold.
};

struct LfwAllPairsSelection {
  std::vector<LfwAllPairsImage> images;
  std::int64_t skipped = 0;  // Selected images without landmarks.
};

absl::StatusOr<LfwAllPairsSelection> SelectLfwAllPairsImages(const LfwDataset& dataset,
                                                             const LfwAllPairsOptions& options);

struct LfwImpostorPair {
  double score = 0;
  std::string first;  // LfwImageKey, e.g. "NAME/NAME_0001.jpg".
  std::string second;
};

struct LfwAllPairsResult {
  AllPairsTar tar;
  std::vector<LfwImpostorPair> top_impostors;  // Highest first (options.top_impostors).
  std::int64_t skipped_images = 0;
  std::int64_t embedding_dim = 0;
  int max_images_per_person = 0;
};

// Selects, embeds with `embed` and scores: PrepareLfwAllPairs, EmbedItems,
// ScoreLfwAllPairs.
absl::StatusOr<LfwAllPairsResult> RunLfwAllPairs(const LfwDataset& dataset, const EmbedFn& embed,
                                                 const LfwAllPairsOptions& options = {});

// Two models on the same images: `model` (e.g. a quantized student) and
// `reference` (e.g. its full-precision teacher), each scored alone, and the
// pairs scored across them with the reference enrolling the earlier image
// and the model probing with the later one (a gallery built with the
// reference, searched with the model). The model is embedded first;
// options.progress counts the images of both passes; top impostors are
// listed for the model only.
struct LfwAllPairsComparison {
  LfwAllPairsResult model;
  LfwAllPairsResult reference;
  LfwAllPairsResult cross;
  double mean_cosine = 0;  // Between the two models' embeddings of the same image.
};

absl::StatusOr<LfwAllPairsComparison> CompareLfwAllPairs(const LfwDataset& dataset,
                                                         const EmbedFn& model,
                                                         const EmbedFn& reference,
                                                         const LfwAllPairsOptions& options = {});

// The steps of RunLfwAllPairs and CompareLfwAllPairs.
struct LfwAllPairsTrials {
  LfwAllPairsSelection selection;
  std::vector<EmbedItem> items;  // Per selected image: dataset.ImagePath() and landmarks.
  std::vector<int> identity;     // Per image, by name.
  std::vector<int> group;        // Per image: the person's fold.
};

absl::StatusOr<LfwAllPairsTrials> PrepareLfwAllPairs(const LfwDataset& dataset,
                                                     const LfwAllPairsOptions& options);

// Scores `embeddings` (one row per trials.items, as EmbedItems returns them).
// With `probes` defined: across two models (ComputeCrossModelAllPairsTar),
// `embeddings` enrolling and `probes` probing; options.top_impostors is then
// ignored (the list names one model's impostors).
absl::StatusOr<LfwAllPairsResult> ScoreLfwAllPairs(const LfwAllPairsTrials& trials,
                                                   const torch::Tensor& embeddings,
                                                   const LfwAllPairsOptions& options,
                                                   const torch::Tensor& probes = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_LFW_ALL_PAIRS_H_
