// ROC plot: one or more ROC curves drawn with OpenCV into a PNG, FAR on a
// log10 x axis, TAR on a linear y axis, with a decade grid, tick labels, axis
// titles and a legend.
//
// Contract: RenderRocPng() returns the PNG bytes, or InvalidArgumentError for
// no curves, an empty curve, a size under 200x150 or a bad axis range. Points
// with FAR below options.min_far (including FAR = 0) are drawn on the left
// edge, since log(0) has no place on the axis. Marked FARs outside
// [min_far, 1) are InvalidArgumentError.
#ifndef QUANTFACE_CORE_EVAL_ROC_PLOT_H_
#define QUANTFACE_CORE_EVAL_ROC_PLOT_H_

#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "core/eval/roc.h"

namespace qf::eval {

struct RocSeries {
  std::string label;    // Legend text, e.g. "dlib-resnet (99.22 %)".
  const RocCurve* roc;  // Not owned; must outlive the call.
};

struct RocPlotOptions {
  int width = 800;
  int height = 600;
  std::string title = "ROC";
  double min_far = 1e-4;  // Left end of the x axis; the right end is 1.
  // Bottom of the y axis; negative = automatic: the lowest TAR any curve has
  // at min_far, rounded down to a multiple of 0.1.
  double min_tar = -1;
  // Operating points to mark: for each FAR target, a filled dot on every
  // curve at (target, TAR@FAR as roc.h computes it) and a dashed vertical
  // line labelled with the target at the top of the plot.
  std::vector<double> marked_fars;
};

absl::StatusOr<std::string> RenderRocPng(const std::vector<RocSeries>& series,
                                         const RocPlotOptions& options = {});

// RenderRocPng, written to `path`.
absl::Status WriteRocPng(const std::string& path, const std::vector<RocSeries>& series,
                         const RocPlotOptions& options = {});

}  // namespace qf::eval

#endif  // QUANTFACE_CORE_EVAL_ROC_PLOT_H_
