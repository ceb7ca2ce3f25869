#include "core/eval/roc_plot.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <fstream>

#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>

#include "absl/strings/str_cat.h"

namespace qf::eval {
namespace {

// Distinguishable on white, in BGR.
const cv::Scalar kPalette[] = {{180, 119, 31},  {14, 127, 255}, {44, 160, 44},   {40, 39, 214},
                               {189, 103, 148}, {75, 86, 140},  {194, 119, 227}, {34, 189, 188}};
const cv::Scalar kBlack(0, 0, 0);
const cv::Scalar kMajorGrid(200, 200, 200);
const cv::Scalar kMinorGrid(235, 235, 235);
constexpr int kFont = cv::FONT_HERSHEY_SIMPLEX;

// Maps (log10 FAR, TAR) into the plot rectangle.
class Axes {
 public:
  Axes(cv::Rect area, double min_log_far, double min_tar)
      : area_(area), min_log_far_(min_log_far), min_tar_(min_tar) {}

  cv::Point ToPixel(double far, double tar) const {
    const double log_far = far > 0 ? std::max(std::log10(far), min_log_far_) : min_log_far_;
    const double u = (log_far - min_log_far_) / (0 - min_log_far_);
    const double v = (std::clamp(tar, min_tar_, 1.0) - min_tar_) / (1 - min_tar_);
    // 4 fractional bits: cv::line's `shift` gives sub-pixel, smoother curves.
    return {static_cast<int>(std::lround((area_.x + u * area_.width) * 16)),
            static_cast<int>(std::lround((area_.y + (1 - v) * area_.height) * 16))};
  }
  cv::Point ToPixelInt(double far, double tar) const {
    const cv::Point p = ToPixel(far, tar);
    return {p.x / 16, p.y / 16};
  }

 private:
  const cv::Rect area_;
  const double min_log_far_;
  const double min_tar_;
};

void PutText(cv::Mat& image, const std::string& text, cv::Point anchor, double scale,
             double align_x, double align_y) {
  int baseline = 0;
  const cv::Size size = cv::getTextSize(text, kFont, scale, 1, &baseline);
  const cv::Point origin(anchor.x - static_cast<int>(align_x * size.width),
                         anchor.y + static_cast<int>(align_y * size.height));
  cv::putText(image, text, origin, kFont, scale, kBlack, 1, cv::LINE_AA);
}

double TarAtOrBelowFar(const RocCurve& roc, double far) {
  double tar = 0;
  for (const RocPoint& p : roc.points) {
    if (p.far > far) break;
    tar = p.tar;
  }
  return tar;
}

}  // namespace

absl::StatusOr<std::string> RenderRocPng(const std::vector<RocSeries>& series,
                                         const RocPlotOptions& options) {
  if (series.empty()) return absl::InvalidArgumentError("ROC plot: no curves");
  for (const RocSeries& s : series) {
    if (s.roc == nullptr || s.roc->points.empty()) {
      return absl::InvalidArgumentError(absl::StrCat("ROC plot: curve '", s.label, "' is empty"));
    }
  }
  if (options.width < 200 || options.height < 150) {
    return absl::InvalidArgumentError(
        absl::StrCat("ROC plot: size ", options.width, "x", options.height, " under 200x150"));
  }
  if (!(options.min_far > 0 && options.min_far < 1) || !(options.min_tar < 1)) {
    return absl::InvalidArgumentError("ROC plot: need 0 < min_far < 1 and min_tar < 1");
  }
  for (const double far : options.marked_fars) {
    if (!(far >= options.min_far && far < 1)) {
      return absl::InvalidArgumentError(
          absl::StrCat("ROC plot: marked FAR ", far, " is outside [min_far, 1)"));
    }
  }
  const double min_log_far = std::floor(std::log10(options.min_far));
  double min_tar = options.min_tar;
  if (min_tar < 0) {
    min_tar = 1;
    for (const RocSeries& s : series) {
      min_tar = std::min(min_tar, TarAtOrBelowFar(*s.roc, std::pow(10.0, min_log_far)));
    }
    min_tar = std::clamp(std::floor(min_tar * 10) / 10, 0.0, 0.9);
  }

  cv::Mat image(options.height, options.width, CV_8UC3, cv::Scalar::all(255));
  const cv::Rect area(70, 40, options.width - 70 - 20, options.height - 40 - 55);
  const Axes axes(area, min_log_far, min_tar);

  // Grid: minor lines at 2..9 x 10^k, major lines and labels at decades.
  for (int decade = static_cast<int>(min_log_far); decade <= 0; ++decade) {
    const double base = std::pow(10.0, decade);
    for (int m = 2; decade < 0 && m <= 9; ++m) {
      const cv::Point x = axes.ToPixelInt(base * m, 0);
      cv::line(image, {x.x, area.y}, {x.x, area.y + area.height}, kMinorGrid, 1);
    }
    const cv::Point x = axes.ToPixelInt(base, 0);
    cv::line(image, {x.x, area.y}, {x.x, area.y + area.height}, kMajorGrid, 1);
    PutText(image, decade == 0 ? "1" : absl::StrCat("1e", decade), {x.x, area.y + area.height + 8},
            0.45, 0.5, 1);
  }
  const double tar_step = 1 - min_tar > 0.35 ? 0.1 : 0.05;
  for (double tar = min_tar; tar <= 1 + 1e-9; tar += tar_step) {
    const cv::Point y = axes.ToPixelInt(1, tar);
    cv::line(image, {area.x, y.y}, {area.x + area.width, y.y}, kMajorGrid, 1);
    char label[16];
    std::snprintf(label, sizeof(label), "%.2f", tar);
    PutText(image, label, {area.x - 6, y.y}, 0.45, 1, 0.5);
  }
  cv::rectangle(image, area, kBlack, 1);

  // Curves, clipped to the plot by the axes' clamping.
  for (std::size_t i = 0; i < series.size(); ++i) {
    const cv::Scalar colour = kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))];
    const std::vector<RocPoint>& points = series[i].roc->points;
    std::vector<cv::Point> polyline;
    polyline.reserve(points.size());
    for (const RocPoint& p : points) polyline.push_back(axes.ToPixel(p.far, p.tar));
    cv::polylines(image, polyline, false, colour, 2, cv::LINE_AA, 4);
  }

  // Operating points: a dashed line per FAR target, a dot per curve.
  for (const double far : options.marked_fars) {
    const int x = axes.ToPixelInt(far, 0).x;
    for (int y = area.y; y < area.y + area.height; y += 8) {
      cv::line(image, {x, y}, {x, std::min(y + 4, area.y + area.height)}, kBlack, 1);
    }
    char label[24];
    std::snprintf(label, sizeof(label), "FAR %.0e", far);
    PutText(image, label, {x + 3, area.y + 4}, 0.4, 0, 1);
    for (std::size_t i = 0; i < series.size(); ++i) {
      const cv::Scalar colour = kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))];
      const TarAtFar point = ComputeTarAtFar(*series[i].roc, far);
      cv::circle(image, axes.ToPixelInt(far, point.tar), 5, colour, cv::FILLED, cv::LINE_AA);
    }
  }

  // Legend in a framed white box at the bottom right (ROC curves of useful
  // models hug the top left).
  const int row = 22;
  int label_width = 0;
  for (const RocSeries& s : series) {
    int baseline = 0;
    label_width = std::max(label_width, cv::getTextSize(s.label, kFont, 0.45, 1, &baseline).width);
  }
  const int box_width = std::min(area.width - 20, 30 + 8 + label_width + 16);
  const int box_height = row * static_cast<int>(series.size()) + 8;
  const cv::Rect box(area.x + area.width - box_width - 10, area.y + area.height - box_height - 10,
                     box_width, box_height);
  cv::rectangle(image, box, cv::Scalar::all(255), cv::FILLED);
  cv::rectangle(image, box, kMajorGrid, 1);
  for (std::size_t i = 0; i < series.size(); ++i) {
    const cv::Scalar colour = kPalette[i % (sizeof(kPalette) / sizeof(kPalette[0]))];
    const int y = box.y + 4 + row * static_cast<int>(i) + row / 2;
    const int x = box.x + 8;
    cv::line(image, {x, y}, {x + 30, y}, colour, 2, cv::LINE_AA);
    PutText(image, series[i].label, {x + 38, y}, 0.45, 0, 0.5);
  }

  PutText(image, options.title, {options.width / 2, 12}, 0.6, 0.5, 1);
  PutText(image, "False accept rate (log scale)", {area.x + area.width / 2, options.height - 12},
          0.5, 0.5, 0);
  // Vertical y-axis title: draw horizontally, then rotate into place.
  {
    const std::string text = "True accept rate";
    int baseline = 0;
    const cv::Size size = cv::getTextSize(text, kFont, 0.5, 1, &baseline);
    cv::Mat label(size.height + baseline + 4, size.width + 4, CV_8UC3, cv::Scalar::all(255));
    cv::putText(label, text, {2, size.height + 2}, kFont, 0.5, kBlack, 1, cv::LINE_AA);
    cv::rotate(label, label, cv::ROTATE_90_COUNTERCLOCKWISE);
    const int top = std::max(0, area.y + area.height / 2 - label.rows / 2);
    if (top + label.rows <= image.rows && label.cols + 4 <= area.x) {
      label.copyTo(image(cv::Rect(4, top, label.cols, label.rows)));
    }
  }

  std::vector<std::uint8_t> png;
  try {
    if (!cv::imencode(".png", image, png)) {
      return absl::InternalError("ROC plot: PNG encoding failed");
    }
  } catch (const cv::Exception& e) {
    return absl::InternalError(absl::StrCat("ROC plot: PNG encoding failed: ", e.what()));
  }
  return std::string(png.begin(), png.end());
}

absl::Status WriteRocPng(const std::string& path, const std::vector<RocSeries>& series,
                         const RocPlotOptions& options) {
  const absl::StatusOr<std::string> png = RenderRocPng(series, options);
  if (!png.ok()) return png.status();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  if (!out) return absl::PermissionDeniedError(absl::StrCat("ROC plot: cannot write ", path));
  out.write(png->data(), static_cast<std::streamsize>(png->size()));
  if (!out.flush()) return absl::DataLossError(absl::StrCat("ROC plot: short write to ", path));
  return absl::OkStatus();
}

}  // namespace qf::eval
