#include "client/commands/job_progress.h"

#include <google/protobuf/util/time_util.h>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/eval/protocol_names.h"

namespace qf::cli {

namespace v1 = ::quantface::v1;

namespace {

std::string PhaseName(v1::JobProgress::Phase phase) {
  switch (phase) {
    case v1::JobProgress::PHASE_GENERATING_DATA:
      return "generating data";
    case v1::JobProgress::PHASE_TRAINING:
      return "training";
    case v1::JobProgress::PHASE_EVALUATING:
      return "evaluating";
    case v1::JobProgress::PHASE_EXPORTING:
      return "exporting";
    default:
      return "";
  }
}

std::string StateName(v1::Job::State state) {
  std::string name = v1::Job::State_Name(state);
  return name.rfind("STATE_", 0) == 0 ? name.substr(6) : name;
}

// The TAR of the point at `far` among `points`, "-" when there is none.
std::string TarAt(const google::protobuf::RepeatedPtrField<v1::OperatingPoint>& points,
                  double far) {
  for (const v1::OperatingPoint& p : points) {
    if (p.false_accept_rate() == far) return absl::StrFormat("%.4f", p.true_accept_rate());
  }
  return "-";
}

}  // namespace

std::string ProgressLine(const v1::Job& job) {
  std::string line = StateName(job.state());
  const v1::JobProgress& p = job.progress();
  const std::string phase = PhaseName(p.phase());
  if (job.state() != v1::Job::STATE_RUNNING || phase.empty()) return line;
  absl::StrAppend(&line, " ", phase);
  if (p.total_steps() > 0) {
    constexpr int kWidth = 20;
    const int filled = static_cast<int>(kWidth * p.step() / p.total_steps());
    absl::StrAppend(&line, " [", std::string(filled, '#'), std::string(kWidth - filled, '.'), "] ",
                    p.step(), "/", p.total_steps());
  }
  if (p.phase() == v1::JobProgress::PHASE_TRAINING && p.loss() > 0) {
    absl::StrAppend(&line, absl::StrFormat(" loss %.5f", p.loss()));
  }
  if (p.steps_per_second() > 0) {
    absl::StrAppend(&line, absl::StrFormat(" %.2f/s", p.steps_per_second()));
  }
  if (p.has_eta()) {
    absl::StrAppend(&line, " ETA ", google::protobuf::util::TimeUtil::DurationToSeconds(p.eta()),
                    "s");
  }
  if (!p.device().empty()) absl::StrAppend(&line, " ", p.device());
  return line;
}

std::string ReportTable(const v1::Model& model) {
  std::string out = absl::StrFormat("model %s (%s, w%da%d)\n", model.name(), model.architecture(),
                                    model.weight_bits(), model.activation_bits());
  absl::StrAppend(&out,
                  absl::StrFormat("  file %d bytes, %.2fx smaller than float32, sha256 %s\n",
                                  model.size_bytes(), model.compression_ratio(), model.sha256()));
  if (!model.teacher_model().empty())
    absl::StrAppend(&out, "  teacher ", model.teacher_model(), "\n");
  for (const v1::EvaluationSummary& e : model.evaluations()) {
    absl::StrAppend(&out, absl::StrFormat("  %s%s", e.protocol(),
                                          e.inference().empty() ? "" : " (" + e.inference() + ")"));
    // Every pair of LFW has no folds, so no accuracy: only operating points.
    if (e.protocol() != eval::kLfwAllPairsBenchmark) {
      absl::StrAppend(&out, absl::StrFormat(" accuracy %.2f%% +- %.2f", 100 * e.accuracy(),
                                            100 * e.accuracy_std()));
    }
    if (e.teacher_accuracy() > 0) {
      absl::StrAppend(&out,
                      absl::StrFormat(" | teacher %.2f%% (drop %.2f points) | cross-model %.2f%%",
                                      100 * e.teacher_accuracy(), e.accuracy_drop_points(),
                                      100 * e.cross_model_accuracy()));
    }
    // The teacher's and the cross-model TAR at the same FAR, where measured.
    const bool compared = !e.teacher_operating_points().empty();
    absl::StrAppend(&out, "\n  FAR        threshold  TAR",
                    compared ? "     teacher TAR  cross-model TAR" : "", "\n");
    for (const v1::OperatingPoint& p : e.operating_points()) {
      absl::StrAppend(&out, absl::StrFormat("  %-9g  %-9.4f  %.4f", p.false_accept_rate(),
                                            p.threshold(), p.true_accept_rate()));
      if (compared) {
        absl::StrAppend(
            &out, absl::StrFormat("  %-11s  %s",
                                  TarAt(e.teacher_operating_points(), p.false_accept_rate()),
                                  TarAt(e.cross_model_operating_points(), p.false_accept_rate())));
      }
      absl::StrAppend(&out, "\n");
    }
  }
  if (model.evaluations().empty()) absl::StrAppend(&out, "  (not evaluated)\n");
  return out;
}

}  // namespace qf::cli
