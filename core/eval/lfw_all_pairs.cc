#include "core/eval/lfw_all_pairs.h"

#include <algorithm>
#include <filesystem>
#include <string>
#include <unordered_map>
#include <utility>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "core/util/status_macros.h"

namespace qf::eval {

absl::StatusOr<LfwAllPairsSelection> SelectLfwAllPairsImages(const LfwDataset& dataset,
                                                             const LfwAllPairsOptions& options) {
  if (options.max_images_per_person < 2) {
    return absl::InvalidArgumentError(absl::StrCat("LFW all pairs: max images per person ",
                                                   options.max_images_per_person,
                                                   " leaves no same pairs (at least 2)"));
  }
  if (options.max_people < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("LFW all pairs: max people ", options.max_people));
  }
  if (dataset.people.empty() || dataset.landmarks.empty()) {
    return absl::FailedPreconditionError(
        "LFW all pairs: the dataset was loaded without people.txt or landmarks5.tsv");
  }
  LfwAllPairsSelection selection;
  const int people = options.max_people > 0
                         ? std::min<int>(options.max_people, dataset.people.size())
                         : static_cast<int>(dataset.people.size());
  for (int p = 0; p < people; ++p) {
    const LfwPerson& person = dataset.people[static_cast<std::size_t>(p)];
    const int count = std::min(person.num_images, options.max_images_per_person);
    for (int number = 1; number <= count; ++number) {
      std::string key = LfwImageKey(person.name, number);
      if (dataset.landmarks.count(key) == 0) {
        ++selection.skipped;
        continue;
      }
      selection.images.push_back({std::move(key), p, person.fold});
    }
  }
  return selection;
}

absl::StatusOr<LfwAllPairsTrials> PrepareLfwAllPairs(const LfwDataset& dataset,
                                                     const LfwAllPairsOptions& options) {
  LfwAllPairsTrials trials;
  QF_ASSIGN_OR_RETURN(trials.selection, SelectLfwAllPairsImages(dataset, options));
  // Identities by name, not by line: a name listed twice (in two folds) is
  // one person, refused by ComputeAllPairsTar rather than scored as two.
  std::unordered_map<std::string, int> identity_of;
  for (const LfwAllPairsImage& image : trials.selection.images) {
    const std::string& name = dataset.people[static_cast<std::size_t>(image.person)].name;
    trials.items.push_back({(std::filesystem::path(dataset.root) / "images" / image.key).string(),
                            dataset.landmarks.at(image.key)});
    trials.identity.push_back(
        identity_of.emplace(name, static_cast<int>(identity_of.size())).first->second);
    trials.group.push_back(image.fold);
  }
  return trials;
}

absl::StatusOr<LfwAllPairsResult> ScoreLfwAllPairs(const LfwAllPairsTrials& trials,
                                                   const torch::Tensor& embeddings,
                                                   const LfwAllPairsOptions& options,
                                                   const torch::Tensor& probes) {
  LfwAllPairsResult result;
  if (probes.defined()) {
    QF_ASSIGN_OR_RETURN(
        result.tar, ComputeCrossModelAllPairsTar(embeddings, probes, trials.identity, trials.group,
                                                 options.far_targets, options.thresholds));
  } else {
    QF_ASSIGN_OR_RETURN(result.tar, ComputeAllPairsTar(embeddings, trials.identity, trials.group,
                                                       options.far_targets, options.thresholds));
  }
  if (options.top_impostors > 0 && !probes.defined()) {
    QF_ASSIGN_OR_RETURN(const std::vector<ScoredRowPair> top,
                        TopDifferentPairs(embeddings, trials.identity, options.top_impostors));
    const std::vector<LfwAllPairsImage>& images = trials.selection.images;
    for (const ScoredRowPair& pair : top) {
      result.top_impostors.push_back({pair.score, images[static_cast<std::size_t>(pair.first)].key,
                                      images[static_cast<std::size_t>(pair.second)].key});
    }
  }
  result.skipped_images = trials.selection.skipped;
  result.embedding_dim = embeddings.size(1);
  result.max_images_per_person = options.max_images_per_person;
  return result;
}

absl::StatusOr<LfwAllPairsResult> RunLfwAllPairs(const LfwDataset& dataset, const EmbedFn& embed,
                                                 const LfwAllPairsOptions& options) {
  QF_ASSIGN_OR_RETURN(const LfwAllPairsTrials trials, PrepareLfwAllPairs(dataset, options));
  QF_ASSIGN_OR_RETURN(const torch::Tensor embeddings,
                      EmbedItems(trials.items, embed,
                                 {.batch_size = options.batch_size,
                                  .flip = options.flip,
                                  .progress = options.progress,
                                  .should_stop = options.should_stop}));
  return ScoreLfwAllPairs(trials, embeddings, options);
}

absl::StatusOr<LfwAllPairsComparison> CompareLfwAllPairs(const LfwDataset& dataset,
                                                         const EmbedFn& model,
                                                         const EmbedFn& reference,
                                                         const LfwAllPairsOptions& options) {
  QF_ASSIGN_OR_RETURN(const LfwAllPairsTrials trials, PrepareLfwAllPairs(dataset, options));
  const std::size_t images = trials.items.size();
  // Progress over both passes: pass 0 is the model, pass 1 the reference.
  const auto pass_options = [&options, images](std::size_t pass) {
    EmbedItemsOptions embed_options{.batch_size = options.batch_size,
                                    .flip = options.flip,
                                    .progress = nullptr,
                                    .should_stop = options.should_stop};
    if (options.progress) {
      embed_options.progress = [&options, pass, images](std::size_t done, std::size_t) {
        options.progress(pass * images + done, 2 * images);
      };
    }
    return embed_options;
  };
  QF_ASSIGN_OR_RETURN(const torch::Tensor model_rows,
                      EmbedItems(trials.items, model, pass_options(0)));
  QF_ASSIGN_OR_RETURN(const torch::Tensor reference_rows,
                      EmbedItems(trials.items, reference, pass_options(1)));
  LfwAllPairsComparison comparison;
  QF_ASSIGN_OR_RETURN(comparison.model, ScoreLfwAllPairs(trials, model_rows, options));
  LfwAllPairsOptions reference_options = options;
  reference_options.top_impostors = 0;
  QF_ASSIGN_OR_RETURN(comparison.reference,
                      ScoreLfwAllPairs(trials, reference_rows, reference_options));
  QF_ASSIGN_OR_RETURN(comparison.cross,
                      ScoreLfwAllPairs(trials, reference_rows, options, model_rows));
  comparison.mean_cosine =
      torch::nn::functional::cosine_similarity(model_rows, reference_rows).mean().item<double>();
  return comparison;
}

}  // namespace qf::eval
