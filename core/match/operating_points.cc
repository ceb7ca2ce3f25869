#include "core/match/operating_points.h"

#include <cmath>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/eval/protocol_names.h"

namespace qf::match {

absl::StatusOr<OperatingPoints> OperatingPoints::FromReport(const nlohmann::json& report,
                                                            std::string protocol,
                                                            bool flip_average) {
  std::vector<OperatingPoint> points;
  try {
    // A report names its protocol under "benchmark" ("lfw" for View 2,
    // kLfwAllPairsBenchmark for every pair); all-pairs reports keep their
    // points under "all_pairs", View 2 reports under "metrics" or on top.
    if (report.is_object() && report.contains("benchmark")) {
      protocol = report["benchmark"].get<std::string>();
    }
    const bool report_flip = report.is_object() && report.value("flip", false);
    if (report_flip != flip_average) {
      return absl::FailedPreconditionError(
          report_flip ? "the evaluation report was measured on mirror-averaged embeddings "
                        "(--flip); these scores are of plain embeddings, whose thresholds "
                        "differ: evaluate again without --flip"
                      : "the evaluation report was measured on plain embeddings; these scores are "
                        "of mirror-averaged ones (flip_average), whose thresholds differ: "
                        "evaluate again with --flip");
    }
    const char* section = protocol == eval::kLfwAllPairsBenchmark ? "all_pairs" : "metrics";
    const nlohmann::json& metrics =
        report.is_object() && report.contains(section) ? report[section] : report;
    if (!metrics.is_object() || !metrics.contains("tar_at_far") ||
        !metrics["tar_at_far"].is_array()) {
      return absl::InvalidArgumentError("evaluation report has no tar_at_far list");
    }
    for (const auto& entry : metrics["tar_at_far"]) {
      if (!entry.value("measurable", false)) continue;
      OperatingPoint point;
      point.far_target = entry.at("far_target").get<double>();
      point.far = entry.at("far").get<double>();
      point.tar = entry.at("tar").get<double>();
      point.threshold = entry.at("threshold").get<float>();
      points.push_back(point);
    }
  } catch (const nlohmann::json::exception& e) {
    return absl::InvalidArgumentError(absl::StrCat("malformed evaluation report: ", e.what()));
  }
  return OperatingPoints(std::move(protocol), std::move(points));
}

absl::StatusOr<OperatingPoints> OperatingPoints::FromReportFile(const std::string& path,
                                                                std::string protocol,
                                                                bool flip_average,
                                                                const std::string& section) {
  std::ifstream in(path);
  if (!in) return absl::NotFoundError(absl::StrCat("no evaluation report at ", path));
  nlohmann::json report = nlohmann::json::parse(in, nullptr, false);
  if (report.is_discarded()) {
    return absl::InvalidArgumentError(absl::StrCat(path, " is not valid JSON"));
  }
  if (!section.empty()) {
    if (!report.is_object() || !report.contains(section) || !report[section].is_object()) {
      return absl::NotFoundError(absl::StrCat(path, " has no \"", section, "\" section"));
    }
    nlohmann::json part = std::move(report[section]);
    part["flip"] = report.contains("flip") ? report["flip"] : nlohmann::json(false);
    report = std::move(part);
  }
  auto points = FromReport(report, std::move(protocol), flip_average);
  if (!points.ok()) {
    return absl::Status(points.status().code(),
                        absl::StrCat(path, ": ", points.status().message()));
  }
  return points;
}

absl::StatusOr<OperatingPoint> OperatingPoints::ForFar(double far_target) const {
  for (const OperatingPoint& point : points_) {
    // Targets are decimal constants like 1e-3; compare relatively.
    if (std::abs(point.far_target - far_target) <= 1e-9 * std::max(1.0, far_target) ||
        std::abs(point.far_target / far_target - 1.0) < 1e-6) {
      return point;
    }
  }
  std::vector<std::string> available;
  for (const OperatingPoint& point : points_) available.push_back(absl::StrCat(point.far_target));
  return absl::FailedPreconditionError(
      absl::StrCat("no threshold was measured for false-accept rate ", far_target, " on protocol '",
                   protocol_, "'; measured: [", absl::StrJoin(available, ", "),
                   "]. Ask for one of those or send an "
                   "explicit threshold"));
}

}  // namespace qf::match
