#include "core/eval/verification_report.h"

#include <algorithm>
#include <cmath>
#include <cstdarg>
#include <cstdio>

#include "absl/strings/str_cat.h"

namespace qf::eval {
namespace {

// printf-style formatting into a std::string, format-checked by the
// compiler (absl::StrFormat would need another Abseil library linked into
// qf_core).
__attribute__((format(printf, 1, 2))) std::string Format(const char* format, ...) {
  char buffer[256];
  va_list args;
  va_start(args, format);
  std::vsnprintf(buffer, sizeof(buffer), format, args);
  va_end(args);
  return buffer;
}

// "1e-3" for powers of ten, else the %g form.
std::string FarName(double far) {
  const double exponent = std::round(std::log10(far));
  if (std::abs(far - std::pow(10.0, exponent)) <= 1e-12 * far) {
    return Format("1e%d", static_cast<int>(exponent));
  }
  return Format("%g", far);
}

std::string TarCell(const TarAtFar& t) {
  return t.measurable ? Format("%.2f %%", 100 * t.tar) : std::string("n/a");
}

// TarCell and, when there is one, the interval: "91.37 % (88.90-93.77)".
std::string TarCellWithInterval(const VerificationMetrics& m, std::size_t i) {
  if (i >= m.tar_at_far.size()) return "-";
  std::string cell = TarCell(m.tar_at_far[i]);
  if (m.tar_at_far[i].measurable && i < m.tar_intervals.size()) {
    absl::StrAppend(
        &cell, Format(" (%.2f-%.2f)", 100 * m.tar_intervals[i].low, 100 * m.tar_intervals[i].high));
  }
  return cell;
}

}  // namespace

nlohmann::json VerificationMetricsToJson(const VerificationMetrics& m, int max_roc_points) {
  nlohmann::json folds = nlohmann::json::array();
  for (const FoldResult& f : m.folds) {
    folds.push_back({{"fold", f.fold},
                     {"pairs", f.num_pairs},
                     {"threshold", f.threshold},
                     {"accuracy", f.accuracy}});
  }
  nlohmann::json tar = nlohmann::json::array();
  for (std::size_t i = 0; i < m.tar_at_far.size(); ++i) {
    const TarAtFar& t = m.tar_at_far[i];
    nlohmann::json entry = {{"far_target", t.far_target},
                            {"tar", t.tar},
                            {"far", t.far},
                            {"threshold", t.threshold},
                            {"measurable", t.measurable}};
    if (t.measurable && i < m.tar_intervals.size()) {
      const TarInterval& ci = m.tar_intervals[i];
      entry["interval"] = {{"low", ci.low},
                           {"high", ci.high},
                           {"confidence", ci.confidence},
                           {"resamples", ci.resamples},
                           {"method", "stratified percentile bootstrap over pairs"}};
    }
    tar.push_back(std::move(entry));
  }
  nlohmann::json roc = nlohmann::json::array();
  for (const RocPoint& p : SubsampleRoc(m.roc, max_roc_points)) {
    roc.push_back({{"far", p.far}, {"tar", p.tar}, {"threshold", p.threshold}});
  }
  return {
      {"pairs", {{"total", m.num_pairs}, {"same", m.num_same}, {"different", m.num_different}}},
      {"accuracy",
       {{"mean", m.accuracy_mean},
        {"std", m.accuracy_std},
        {"std_kind", "population"},
        {"std_sample", m.accuracy_std_sample},
        {"folds", folds}}},
      {"best_threshold", {{"threshold", m.best.threshold}, {"accuracy", m.best.accuracy}}},
      {"tar_at_far", tar},
      {"auc", m.auc},
      {"threshold_convention", "same iff score >= threshold"},
      {"roc", roc},
  };
}

std::string FormatVerificationTable(const VerificationMetrics& m, const std::string& title) {
  // Labels padded to one width so that the values line up.
  std::string out = absl::StrCat(title, " (", m.num_pairs, " pairs: ", m.num_same, " same, ",
                                 m.num_different, " different)\n");
  const std::string folds = absl::StrCat(m.folds.size(), "-fold accuracy");
  absl::StrAppend(
      &out, Format("  %-18s %6.2f %% +- %.2f  (population std; sample std %.2f)\n", folds.c_str(),
                   100 * m.accuracy_mean, 100 * m.accuracy_std, 100 * m.accuracy_std_sample));
  absl::StrAppend(&out, Format("  %-18s %8.4f  (accuracy on all pairs %.2f %%)\n", "best threshold",
                               m.best.threshold, 100 * m.best.accuracy));
  for (std::size_t i = 0; i < m.tar_at_far.size(); ++i) {
    const TarAtFar& t = m.tar_at_far[i];
    const std::string label = "TAR @ FAR=" + FarName(t.far_target);
    if (t.measurable) {
      std::string interval;
      if (i < m.tar_intervals.size()) {
        const TarInterval& ci = m.tar_intervals[i];
        interval =
            Format(", %.0f %% CI %.2f-%.2f %%", 100 * ci.confidence, 100 * ci.low, 100 * ci.high);
      }
      absl::StrAppend(&out,
                      Format("  %-18s %6.2f %%  (threshold %.4f, FAR %.2e%s)\n", label.c_str(),
                             100 * t.tar, t.threshold, t.far, interval.c_str()));
    } else {
      absl::StrAppend(
          &out, Format("  %-18s %8s  (needs >= %.0f different pairs, have %lld)\n", label.c_str(),
                       "n/a", 1 / t.far_target, static_cast<long long>(m.num_different)));
    }
  }
  absl::StrAppend(&out, Format("  %-18s %8.5f\n", "AUC", m.auc));
  for (const FoldResult& f : m.folds) {
    absl::StrAppend(&out,
                    Format("    fold %2d: %6.2f %%  (threshold %.4f, %lld pairs)\n", f.fold,
                           100 * f.accuracy, f.threshold, static_cast<long long>(f.num_pairs)));
  }
  return out;
}

std::string FormatComparisonTable(
    const std::vector<std::pair<std::string, const VerificationMetrics*>>& rows) {
  if (rows.empty()) return "";
  std::size_t name_width = 5;
  for (const auto& row : rows) name_width = std::max(name_width, row.first.size());
  const std::vector<TarAtFar>& columns = rows.front().second->tar_at_far;
  // The TAR cells, formatted once; each column as wide as its widest cell
  // (intervals make them wider).
  std::vector<std::vector<std::string>> cells;
  std::vector<int> widths(columns.size(), 10);
  for (const auto& row : rows) {
    std::vector<std::string>& row_cells = cells.emplace_back();
    for (std::size_t i = 0; i < columns.size(); ++i) {
      row_cells.push_back(TarCellWithInterval(*row.second, i));
      widths[i] = std::max(widths[i], static_cast<int>(row_cells.back().size()));
    }
  }
  std::string out = Format("%-*s  %-17s", static_cast<int>(name_width), "model", "accuracy");
  for (std::size_t i = 0; i < columns.size(); ++i) {
    absl::StrAppend(&out,
                    Format("  %-*s", widths[i], ("TAR@" + FarName(columns[i].far_target)).c_str()));
  }
  absl::StrAppend(&out, "  AUC\n");
  for (std::size_t r = 0; r < rows.size(); ++r) {
    const auto& [name, m] = rows[r];
    absl::StrAppend(&out, Format("%-*s  %6.2f %% +- %4.2f  ", static_cast<int>(name_width),
                                 name.c_str(), 100 * m->accuracy_mean, 100 * m->accuracy_std));
    for (std::size_t i = 0; i < columns.size(); ++i) {
      absl::StrAppend(&out, Format("  %-*s", widths[i], cells[r][i].c_str()));
    }
    absl::StrAppend(&out, Format("  %.5f\n", m->auc));
  }
  return out;
}

nlohmann::json AllPairsTarToJson(const AllPairsTar& result) {
  nlohmann::json json;
  json["images"] = result.num_images;
  json["identities"] = result.num_identities;
  json["pairs"] = {{"same", result.num_same}, {"different", result.num_different}};
  json["groups"] = nlohmann::json::array();
  for (std::size_t g = 0; g < result.groups.size(); ++g) {
    json["groups"].push_back({{"group", result.groups[g]}, {"same", result.group_same[g]}});
  }
  json["tar_at_far"] = nlohmann::json::array();
  for (const AllPairsTarAtFar& point : result.tar_at_far) {
    json["tar_at_far"].push_back({{"far_target", point.far_target},
                                  {"tar", point.tar},
                                  {"far", point.far},
                                  {"threshold", point.threshold},
                                  {"false_accepts", point.false_accepts},
                                  {"true_accepts", point.true_accepts},
                                  {"measurable", point.measurable},
                                  {"standard_error", point.standard_error},
                                  {"group_sd", point.group_tar_sd},
                                  {"group_tar", point.group_tar}});
  }
  if (!result.at_threshold.empty()) {
    json["at_threshold"] = nlohmann::json::array();
    for (const AllPairsRatesAtThreshold& rates : result.at_threshold) {
      json["at_threshold"].push_back({{"threshold", rates.threshold},
                                      {"tar", rates.tar},
                                      {"far", rates.far},
                                      {"true_accepts", rates.true_accepts},
                                      {"false_accepts", rates.false_accepts}});
    }
  }
  json["threshold_convention"] = "same iff score >= threshold";
  return json;
}

nlohmann::json LfwAllPairsResultToJson(const LfwAllPairsResult& result) {
  nlohmann::json json;
  json["benchmark"] = kLfwAllPairsBenchmark;
  json["max_images_per_person"] = result.max_images_per_person;
  json["skipped_images"] = result.skipped_images;
  json["embedding_dim"] = result.embedding_dim;
  json["all_pairs"] = AllPairsTarToJson(result.tar);
  if (!result.top_impostors.empty()) {
    json["top_impostors"] = nlohmann::json::array();
    for (const LfwImpostorPair& pair : result.top_impostors) {
      json["top_impostors"].push_back(
          {{"score", pair.score}, {"first", pair.first}, {"second", pair.second}});
    }
  }
  return json;
}

std::string FormatLfwAllPairsResult(
    const LfwAllPairsResult& result, const std::string& name,
    const std::vector<std::pair<std::string, const AllPairsTar*>>& more_rows) {
  const AllPairsTar& tar = result.tar;
  std::string out =
      absl::StrCat("LFW all pairs: ", tar.num_images, " images of ", tar.num_identities,
                   " people (at most ", result.max_images_per_person, " each; ",
                   result.skipped_images, " skipped, no landmarks), ", tar.num_same, " same and ",
                   tar.num_different, " different pairs; TAR +- its standard error over the ",
                   tar.groups.size(), " person-disjoint folds\n");
  std::vector<std::pair<std::string, const AllPairsTar*>> rows = {{name, &tar}};
  rows.insert(rows.end(), more_rows.begin(), more_rows.end());
  absl::StrAppend(&out, FormatAllPairsTable(rows), FormatRatesAtThresholds(tar),
                  "thresholds (same iff score >= threshold):");
  for (const AllPairsTarAtFar& point : tar.tar_at_far) {
    if (point.measurable) {
      absl::StrAppend(&out,
                      Format("  FAR %s: %.4f", FarName(point.far_target).c_str(), point.threshold));
    }
  }
  absl::StrAppend(&out, "\n");
  if (!result.top_impostors.empty()) {
    absl::StrAppend(&out, "highest-scoring impostor pairs:\n");
    for (const LfwImpostorPair& pair : result.top_impostors) {
      absl::StrAppend(&out, Format("  %.4f  ", pair.score), pair.first, "  ", pair.second, "\n");
    }
  }
  return out;
}

std::string FormatPairedTarDifferences(const std::string& name, const AllPairsTar& model,
                                       const AllPairsTar& reference) {
  const auto differences = PairedTarDifferences(model, reference);
  if (!differences.ok()) return "";
  std::string out = name + ", paired over the folds (points):";
  for (const PairedTarDifference& d : *differences) {
    absl::StrAppend(&out, "  TAR@", FarName(d.far_target), " ",
                    d.measurable
                        ? Format("%+.2f +- %.2f", 100 * d.difference, 100 * d.standard_error)
                        : std::string("n/a"));
  }
  return out + "\n";
}

nlohmann::json PairedTarDifferencesToJson(const AllPairsTar& model, const AllPairsTar& reference) {
  const auto differences = PairedTarDifferences(model, reference);
  if (!differences.ok()) return nullptr;
  nlohmann::json json = nlohmann::json::array();
  for (const PairedTarDifference& d : *differences) {
    json.push_back({{"far_target", d.far_target},
                    {"difference", d.difference},
                    {"standard_error", d.standard_error},
                    {"measurable", d.measurable}});
  }
  return json;
}

nlohmann::json LfwAllPairsComparisonToJson(const LfwAllPairsComparison& comparison) {
  return {{"teacher", LfwAllPairsResultToJson(comparison.reference)},
          {"cross_teacher_student", LfwAllPairsResultToJson(comparison.cross)},
          {"mean_teacher_student_cosine", comparison.mean_cosine},
          {"student_minus_teacher",
           PairedTarDifferencesToJson(comparison.model.tar, comparison.reference.tar)},
          {"cross_minus_teacher",
           PairedTarDifferencesToJson(comparison.cross.tar, comparison.reference.tar)}};
}

std::string FormatLfwAllPairsComparison(const LfwAllPairsComparison& comparison,
                                        const std::string& model_name,
                                        const std::string& teacher_name) {
  return absl::StrCat(
      FormatLfwAllPairsResult(comparison.model, model_name,
                              {{teacher_name, &comparison.reference.tar},
                               {"cross (teacher vs student)", &comparison.cross.tar}}),
      FormatPairedTarDifferences("student - teacher", comparison.model.tar,
                                 comparison.reference.tar),
      FormatPairedTarDifferences("cross - teacher", comparison.cross.tar, comparison.reference.tar),
      Format("mean teacher-student cosine: %.4f\n", comparison.mean_cosine));
}

std::string FormatRatesAtThresholds(const AllPairsTar& result) {
  std::string out;
  for (const AllPairsRatesAtThreshold& rates : result.at_threshold) {
    absl::StrAppend(&out, Format("at threshold %.4f: TAR %.2f %%, FAR %.2e (%lld of %lld different "
                                 "pairs)\n",
                                 rates.threshold, 100 * rates.tar, rates.far,
                                 static_cast<long long>(rates.false_accepts),
                                 static_cast<long long>(result.num_different)));
  }
  return out;
}

std::string FormatAllPairsTable(
    const std::vector<std::pair<std::string, const AllPairsTar*>>& rows) {
  if (rows.empty()) return "";
  std::size_t name_width = 5;
  for (const auto& row : rows) name_width = std::max(name_width, row.first.size());
  const std::vector<AllPairsTarAtFar>& columns = rows.front().second->tar_at_far;
  std::string out = Format("%-*s", static_cast<int>(name_width), "model");
  for (const AllPairsTarAtFar& column : columns) {
    absl::StrAppend(&out, Format("  %-17s", ("TAR@" + FarName(column.far_target)).c_str()));
  }
  absl::StrAppend(&out, "  same / different pairs\n");
  for (const auto& [name, result] : rows) {
    absl::StrAppend(&out, Format("%-*s", static_cast<int>(name_width), name.c_str()));
    for (std::size_t i = 0; i < columns.size(); ++i) {
      if (i >= result->tar_at_far.size() || !result->tar_at_far[i].measurable) {
        absl::StrAppend(&out, Format("  %-17s", "n/a"));
        continue;
      }
      const AllPairsTarAtFar& point = result->tar_at_far[i];
      absl::StrAppend(&out,
                      Format("  %6.2f %% +- %4.2f ", 100 * point.tar, 100 * point.standard_error));
    }
    absl::StrAppend(&out, Format("  %lld / %lld\n", static_cast<long long>(result->num_same),
                                 static_cast<long long>(result->num_different)));
  }
  return out;
}

}  // namespace qf::eval
