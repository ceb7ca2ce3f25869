#include "core/quant/lfw_student_eval.h"

#include <chrono>
#include <unordered_map>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "core/eval/lfw_verification.h"
#include "core/eval/verification_report.h"
#include "core/image/decoder.h"
#include "core/image/face_aligner.h"
#include "core/image/tensor_conversion.h"
#include "core/util/status_macros.h"

namespace qf::quant {
namespace {

namespace F = torch::nn::functional;

torch::Tensor Embed(nn::Backbone& model, const torch::Tensor& batch, bool flip) {
  const int64_t n = batch.size(0);
  torch::Tensor out = model.forward(flip ? image::WithMirrored(batch) : batch).to(torch::kCPU);
  if (flip) out = out.slice(0, 0, n) + out.slice(0, n, 2 * n);
  return F::normalize(out, F::NormalizeFuncOptions().dim(1));
}

}  // namespace

absl::StatusOr<StudentLfwReport> EvaluateStudentOnLfw(const eval::LfwDataset& dataset,
                                                      nn::Backbone& teacher, nn::Backbone& student,
                                                      torch::Device device,
                                                      const StudentLfwOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const nn::InputSpec& spec = teacher.spec().input;
  const image::Decoder decoder;
  const image::FaceAligner aligner(spec);
  std::unordered_map<std::string, torch::Tensor> own_teacher_rows;
  std::unordered_map<std::string, torch::Tensor>& teacher_rows =
      options.teacher_embeddings != nullptr ? *options.teacher_embeddings : own_teacher_rows;
  // Reuse the given teacher embeddings only if they cover every pair image.
  bool teacher_known = !teacher_rows.empty();
  for (const eval::LfwPair& pair : dataset.pairs) {
    if (!teacher_known) break;
    teacher_known = teacher_rows.count(dataset.ImagePath(pair.name_a, pair.number_a)) > 0 &&
                    teacher_rows.count(dataset.ImagePath(pair.name_b, pair.number_b)) > 0;
  }
  std::unordered_map<std::string, torch::Tensor> student_rows;
  double cosine_sum = 0;
  int64_t cosine_count = 0;
  teacher.to(device);
  student.to(device);
  teacher.eval();
  student.eval();

  const eval::EmbedFn embed = [&](absl::Span<const eval::EmbedItem> items,
                                  bool flip) -> absl::StatusOr<torch::Tensor> {
    if (options.should_stop && options.should_stop()) {
      return absl::CancelledError(
          absl::StrCat("LFW evaluation cancelled after ", student_rows.size(), " images"));
    }
    std::vector<cv::Mat> crops;
    crops.reserve(items.size());
    for (const eval::EmbedItem& item : items) {
      QF_ASSIGN_OR_RETURN(const cv::Mat decoded, decoder.DecodeFile(item.image_path));
      if (!item.landmarks.has_value()) {
        return absl::InvalidArgumentError(absl::StrCat(item.image_path, ": no landmarks"));
      }
      QF_ASSIGN_OR_RETURN(cv::Mat crop, aligner.Align(decoded, *item.landmarks));
      crops.push_back(std::move(crop));
    }
    QF_ASSIGN_OR_RETURN(const torch::Tensor batch, image::CropsToTensor(crops, spec));
    try {
      torch::NoGradGuard no_grad;
      const torch::Tensor input = batch.to(device);
      torch::Tensor t;
      if (teacher_known) {
        std::vector<torch::Tensor> rows;
        for (const eval::EmbedItem& item : items) rows.push_back(teacher_rows.at(item.image_path));
        t = torch::stack(rows);
      } else {
        t = Embed(teacher, input, flip);
      }
      const torch::Tensor s = Embed(student, input, flip);
      cosine_sum += (t * s).sum(1).sum().item<double>();
      cosine_count += t.size(0);
      for (size_t i = 0; i < items.size(); ++i) {
        if (!teacher_known) teacher_rows[items[i].image_path] = t[i].clone();
        student_rows[items[i].image_path] = s[i].clone();
      }
      return s;
    } catch (const c10::Error& e) {
      return absl::InternalError(absl::StrCat("embedding: ", e.what_without_backtrace()));
    }
  };

  eval::LfwVerificationOptions lfw_options;
  lfw_options.batch_size = options.batch_size;
  lfw_options.flip = options.flip;
  lfw_options.progress = options.progress;
  QF_ASSIGN_OR_RETURN(const eval::LfwVerificationResult student_result,
                      eval::RunLfwVerification(dataset, embed, lfw_options));

  std::vector<eval::ScoredPair> teacher_scores;
  std::vector<eval::ScoredPair> cross_scores;
  for (const eval::LfwPair& pair : dataset.pairs) {
    const std::string a = dataset.ImagePath(pair.name_a, pair.number_a);
    const std::string b = dataset.ImagePath(pair.name_b, pair.number_b);
    const auto ta = teacher_rows.find(a);
    const auto tb = teacher_rows.find(b);
    const auto sb = student_rows.find(b);
    if (ta == teacher_rows.end() || tb == teacher_rows.end() || sb == student_rows.end()) {
      return absl::InternalError(absl::StrCat("no embedding for pair ", a, " / ", b));
    }
    teacher_scores.push_back(
        {(ta->second * tb->second).sum().item<double>(), pair.is_same, pair.fold});
    cross_scores.push_back(
        {(ta->second * sb->second).sum().item<double>(), pair.is_same, pair.fold});
  }
  StudentLfwReport report;
  report.student = student_result.metrics;
  QF_ASSIGN_OR_RETURN(report.teacher, eval::ComputeVerificationMetrics(teacher_scores));
  QF_ASSIGN_OR_RETURN(report.cross, eval::ComputeVerificationMetrics(cross_scores));
  report.mean_teacher_student_cosine =
      cosine_count > 0 ? cosine_sum / static_cast<double>(cosine_count) : 0.0;
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

nlohmann::json StudentLfwReportToJson(const StudentLfwReport& report) {
  // Without the ROC curves: the report travels inside every model file.
  const auto metrics = [](const eval::VerificationMetrics& m) {
    nlohmann::json j = eval::VerificationMetricsToJson(m);
    j.erase("roc");
    return j;
  };
  return {{"teacher", metrics(report.teacher)},
          {"student", metrics(report.student)},
          {"cross_teacher_student", metrics(report.cross)},
          {"mean_teacher_student_cosine", report.mean_teacher_student_cosine},
          {"seconds", report.seconds}};
}

}  // namespace qf::quant
