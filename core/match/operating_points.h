// OperatingPoints: the decision thresholds a model's evaluation measured, one
// per false-accept rate, and the choice of threshold for a request.
//
// Contract: FromReport() reads the "tar_at_far" entries of a verification
// report (core/eval/verification_report.h), LFW View 2's or every pair's,
// and keeps only measurable ones (a FAR target below 1 / number of impostor
// pairs has no honest threshold). The protocol is the report's "benchmark"
// when it names one, else the caller's. Every pair of LFW images measures
// thresholds at FARs View 2's 3,000 impostor pairs cannot (1e-4, 1e-5) and
// rests the one at 1e-3 on 55,000 impostor pairs instead of 3. A report
// whose embeddings were mirror-averaged ("flip": true) or not, other than
// `flip_average` asks, is FAILED_PRECONDITION: the two kinds of score have
// different thresholds.
// ForFar() returns the point for exactly that target, or FAILED_PRECONDITION
// naming the targets that were measured: a threshold is never invented.
#ifndef QUANTFACE_CORE_MATCH_OPERATING_POINTS_H_
#define QUANTFACE_CORE_MATCH_OPERATING_POINTS_H_

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"

namespace qf::match {

struct OperatingPoint {
  double far_target = 0;  // e.g. 1e-3.
  double far = 0;         // Measured at the threshold.
  double tar = 0;         // Measured at the threshold.
  float threshold = 0;    // "Same" iff cosine >= threshold.
};

class OperatingPoints {
 public:
  OperatingPoints() = default;
  OperatingPoints(std::string protocol, std::vector<OperatingPoint> points)
      : protocol_(std::move(protocol)), points_(std::move(points)) {}

  // `report` is a VerificationMetricsToJson() document (or one holding it
  // under "metrics", as `quantface bench lfw` writes), or an all-pairs
  // report (LfwAllPairsResultToJson(), `quantface bench lfw --protocol
  // all-pairs`).
  static absl::StatusOr<OperatingPoints> FromReport(const nlohmann::json& report,
                                                    std::string protocol,
                                                    bool flip_average = false);
  // With `section`, the points of that object of the report (e.g.
  // "cross_teacher_student", the pairs scored across a student and its
  // teacher), which shares the report's "flip"; NOT_FOUND when the report
  // has no such object.
  static absl::StatusOr<OperatingPoints> FromReportFile(const std::string& path,
                                                        std::string protocol,
                                                        bool flip_average = false,
                                                        const std::string& section = "");

  absl::StatusOr<OperatingPoint> ForFar(double far_target) const;

  const std::string& protocol() const { return protocol_; }
  const std::vector<OperatingPoint>& points() const { return points_; }

 private:
  std::string protocol_;
  std::vector<OperatingPoint> points_;
};

}  // namespace qf::match

#endif  // QUANTFACE_CORE_MATCH_OPERATING_POINTS_H_
