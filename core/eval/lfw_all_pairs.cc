#include "core/eval/lfw_all_pairs.h"

#include <algorithm>
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

absl::StatusOr<LfwAllPairsResult> RunLfwAllPairs(const LfwDataset& dataset, const EmbedFn& embed,
                                                 const LfwAllPairsOptions& options) {
  QF_ASSIGN_OR_RETURN(const LfwAllPairsSelection selection,
                      SelectLfwAllPairsImages(dataset, options));
  std::vector<EmbedItem> items;
  std::vector<int> identity;
  std::vector<int> group;
  // Identities by name, not by line: a name listed twice (in two folds) is
  // one person, refused by ComputeAllPairsTar rather than scored as two.
  std::unordered_map<std::string, int> identity_of;
  for (const LfwAllPairsImage& image : selection.images) {
    items.push_back({dataset.root + "/images/" + image.key, dataset.landmarks.at(image.key)});
    const std::string& name = dataset.people[static_cast<std::size_t>(image.person)].name;
    identity.push_back(
        identity_of.emplace(name, static_cast<int>(identity_of.size())).first->second);
    group.push_back(image.fold);
  }
  QF_ASSIGN_OR_RETURN(const torch::Tensor embeddings,
                      EmbedItems(items, embed,
                                 {.batch_size = options.batch_size,
                                  .flip = options.flip,
                                  .progress = options.progress,
                                  .should_stop = options.should_stop}));
  LfwAllPairsResult result;
  QF_ASSIGN_OR_RETURN(result.tar, ComputeAllPairsTar(embeddings, identity, group,
                                                     options.far_targets, options.thresholds));
  if (options.top_impostors > 0) {
    QF_ASSIGN_OR_RETURN(const std::vector<ScoredRowPair> top,
                        TopDifferentPairs(embeddings, identity, options.top_impostors));
    for (const ScoredRowPair& pair : top) {
      result.top_impostors.push_back({pair.score,
                                      selection.images[static_cast<std::size_t>(pair.first)].key,
                                      selection.images[static_cast<std::size_t>(pair.second)].key});
    }
  }
  result.skipped_images = selection.skipped;
  result.embedding_dim = embeddings.size(1);
  result.max_images_per_person = options.max_images_per_person;
  return result;
}

}  // namespace qf::eval
