// LFW evaluation of a quantized student against its teacher, in one pass:
// every image is decoded and aligned (dataset landmarks) once and embedded by
// both models, then three metric sets are computed on the official pairs:
// teacher alone, student alone, and cross-model (the first image of each pair
// embedded by the teacher, the second by the student), which measures whether
// a gallery enrolled with the teacher keeps working with the student.
//
// LFW is evaluation data only: nothing here feeds training.
#ifndef QUANTFACE_CORE_QUANT_LFW_STUDENT_EVAL_H_
#define QUANTFACE_CORE_QUANT_LFW_STUDENT_EVAL_H_

#include <torch/torch.h>

#include <cstddef>
#include <functional>
#include <string>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "absl/status/statusor.h"
#include "core/eval/lfw_dataset.h"
#include "core/eval/verification_metrics.h"
#include "core/nn/backbone.h"

namespace qf::quant {

struct StudentLfwOptions {
  int batch_size = 32;
  bool flip = false;  // Embeddings of crop + mirror, summed.
  std::function<void(std::size_t done, std::size_t total)> progress;
  // Polled before each batch; true ends the evaluation with CANCELLED (a
  // full LFW pass takes minutes on a CPU, too long to be uninterruptible).
  std::function<bool()> should_stop;
  // Teacher embeddings by image path, normalized rows. When it holds every
  // image the teacher is not run (its embeddings do not change between
  // students); otherwise it is filled. Optional.
  std::unordered_map<std::string, torch::Tensor>* teacher_embeddings = nullptr;
};

struct StudentLfwReport {
  eval::VerificationMetrics teacher;
  eval::VerificationMetrics student;
  eval::VerificationMetrics cross;
  // Mean cosine between teacher and student embeddings of the same image.
  double mean_teacher_student_cosine = 0;
  double seconds = 0;
};

absl::StatusOr<StudentLfwReport> EvaluateStudentOnLfw(const eval::LfwDataset& dataset,
                                                      nn::Backbone& teacher, nn::Backbone& student,
                                                      torch::Device device,
                                                      const StudentLfwOptions& options = {});

nlohmann::json StudentLfwReportToJson(const StudentLfwReport& report);

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_LFW_STUDENT_EVAL_H_
