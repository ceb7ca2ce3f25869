// lfw_detect_eval: measures DlibFaceDetector on the raw LFW images against the
// reference five points of landmarks5.tsv. A tool, not a test (it reads the
// whole 13k-image set and reports numbers instead of asserting them).
//
//   lfw_detect_eval --data ../shared/data/lfw [--limit N] [--fallback]
//                   [--min-side 200] [--adjust-threshold 0]
//
// Reports: detection rate (images with >= 1 face), landmark error of the
// scored face (the largest, or with --central the most central) normalised by the reference
// inter-ocular distance (NME), per-point mean error and mean signed offset in a face frame (x along
// the eye line, y perpendicular; both in IOD units), the mean detected box as
// fractions of the image (the value behind DlibFaceDetector::LfwCentreBox),
// and detection time per image on one thread (decode excluded).
#include <algorithm>
#include <array>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <time.h>

#include <CLI/CLI.hpp>
#include <opencv2/core.hpp>
#include <opencv2/imgcodecs.hpp>

#include "core/detect/dlib_face_detector.h"
#include "core/detect/face_selection.h"

namespace {

struct Reference {
  std::string path;
  std::array<cv::Point2f, 5> points;
};

std::vector<Reference> ReadReferences(const std::string& tsv) {
  std::vector<Reference> references;
  std::ifstream in(tsv);
  std::string line;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    Reference reference;
    fields >> reference.path;
    for (cv::Point2f& p : reference.points) fields >> p.x >> p.y;
    if (fields) references.push_back(std::move(reference));
  }
  return references;
}

double Percentile(std::vector<double> values, double q) {
  if (values.empty()) return 0.0;
  std::sort(values.begin(), values.end());
  const auto index = static_cast<size_t>(q * static_cast<double>(values.size() - 1) + 0.5);
  return values[index];
}

// CPU time of this thread: unlike wall time it is not inflated by other
// processes sharing the machine.
double ThreadCpuMillis() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) * 1e3 + static_cast<double>(t.tv_nsec) * 1e-6;
}

double Mean(const std::vector<double>& values) {
  double sum = 0.0;
  for (double v : values) sum += v;
  return values.empty() ? 0.0 : sum / static_cast<double>(values.size());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app("Face detection + five landmarks on raw LFW images");
  std::string data = std::string(QF_SHARED_DIR) + "/data/lfw";
  size_t limit = 0;
  bool fallback = false;
  bool central = false;
  std::string half = "all";
  bool verbose = false;
  qf::detect::DlibFaceDetector::Options options;
  app.add_option("--data", data, "LFW folder with images/ and landmarks5.tsv");
  app.add_option("--limit", limit, "evaluate only every k-th image so that about N are used");
  app.add_flag("--fallback", fallback, "use LfwCentreBox() when nothing is detected");
  app.add_option("--half", half, "all, or even/odd: every other image of landmarks5.tsv")
      ->check(CLI::IsMember({"all", "even", "odd"}));
  app.add_flag("--central", central, "score the face nearest the image centre, not the largest");
  app.add_flag("--verbose", verbose, "list images whose NME exceeds 0.1");
  bool dlib_convention = false;
  app.add_flag("--dlib-convention", dlib_convention, "keep dlib's points (mtcnn_convention off)");
  app.add_option("--min-side", options.min_detect_side, "Options::min_detect_side");
  app.add_option("--adjust-threshold", options.adjust_threshold, "Options::adjust_threshold");
  std::string shape_predictor = qf::detect::DlibFaceDetector::kDefaultShapePredictorPath;
  app.add_option("--shape-predictor", shape_predictor, "68-point dlib model file");
  CLI11_PARSE(app, argc, argv);
  options.mtcnn_convention = !dlib_convention;
  if (fallback) options.fallback_box = qf::detect::DlibFaceDetector::LfwCentreBox();

  cv::setNumThreads(0);  // One thread: the number is per core.
  auto detector = qf::detect::DlibFaceDetector::Create(shape_predictor, options);
  if (!detector.ok()) {
    std::fprintf(stderr, "%s\n", detector.status().ToString().c_str());
    return 1;
  }
  std::vector<Reference> references = ReadReferences(data + "/landmarks5.tsv");
  if (references.empty()) {
    std::fprintf(stderr, "no references in %s/landmarks5.tsv\n", data.c_str());
    return 1;
  }
  if (half != "all") {
    // Every other line; the halves are disjoint for fitting and checking.
    std::vector<Reference> kept;
    for (size_t i = half == "even" ? 0 : 1; i < references.size(); i += 2) {
      kept.push_back(std::move(references[i]));
    }
    references = std::move(kept);
  }
  const size_t stride = limit > 0 ? std::max<size_t>(1, references.size() / limit) : 1;

  size_t images = 0, any_face = 0, detected = 0, fell_back = 0, several = 0, unreadable = 0,
         wrong_face = 0;
  std::vector<double> nme, fallback_nme, millis, cpu_millis;
  std::array<double, 5> point_error{}, bias_x{}, bias_y{};
  std::array<double, 4> box_sum{};  // x, y, w, h as fractions.
  for (size_t i = 0; i < references.size(); i += stride) {
    const Reference& reference = references[i];
    const cv::Mat image = cv::imread(data + "/images/" + reference.path, cv::IMREAD_COLOR);
    if (image.empty()) {
      ++unreadable;
      continue;
    }
    ++images;
    const auto start = std::chrono::steady_clock::now();
    const double cpu_start = ThreadCpuMillis();
    auto faces = (*detector)->Detect(image);
    cpu_millis.push_back(ThreadCpuMillis() - cpu_start);
    millis.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
    if (!faces.ok()) {
      std::fprintf(stderr, "%s: %s\n", reference.path.c_str(), faces.status().ToString().c_str());
      return 1;
    }
    if (std::any_of(faces->begin(), faces->end(),
                    [](const qf::detect::DetectedFace& f) { return !f.from_fallback; })) {
      ++any_face;
    }
    if (faces->empty()) continue;
    const size_t pick = central ? qf::detect::MostCentralFace(*faces, image.size()).value_or(0) : 0;
    const qf::detect::DetectedFace& face = (*faces)[pick];
    if (face.from_fallback) {
      ++fell_back;
    } else {
      ++detected;
      if (faces->size() > 1) ++several;
      box_sum[0] += face.box.x / image.cols;
      box_sum[1] += face.box.y / image.rows;
      box_sum[2] += face.box.width / image.cols;
      box_sum[3] += face.box.height / image.rows;
    }
    const cv::Point2f eye_axis = reference.points[1] - reference.points[0];
    const double iod = std::hypot(eye_axis.x, eye_axis.y);
    const cv::Point2f ux = eye_axis / static_cast<float>(iod);
    const cv::Point2f uy(-ux.y, ux.x);
    double sum = 0.0;
    for (int k = 0; k < 5; ++k) {
      const cv::Point2f d = face.landmarks[k] - reference.points[k];
      const double e = std::hypot(d.x, d.y) / iod;
      sum += e;
      point_error[k] += e;
      bias_x[k] += d.dot(ux) / iod;
      bias_y[k] += d.dot(uy) / iod;
    }
    if (verbose && sum / 5.0 > 0.1) {
      std::printf("%s NME %.3f faces %zu fallback %d\n", reference.path.c_str(), sum / 5.0,
                  faces->size(), face.from_fallback ? 1 : 0);
    }
    nme.push_back(sum / 5.0);
    if (face.from_fallback) fallback_nme.push_back(sum / 5.0);
    if (sum / 5.0 > 0.5) ++wrong_face;
  }

  const double found = static_cast<double>(detected + fell_back);
  std::printf("images %zu (unreadable %zu, stride %zu), min_detect_side %d, adjust_threshold %g\n",
              images, unreadable, stride, options.min_detect_side, options.adjust_threshold);
  std::printf(
      "detection rate %.4f (%zu images with >= 1 face); scored face detected in %.4f (%zu), "
      "fallback used %zu, several faces %zu\n",
      static_cast<double>(any_face) / images, any_face, static_cast<double>(detected) / images,
      detected, fell_back, several);
  std::printf("NME (first face, / IOD): mean %.4f median %.4f p95 %.4f; >0.10: %.4f; >0.5: %zu\n",
              Mean(nme), Percentile(nme, 0.5), Percentile(nme, 0.95),
              static_cast<double>(
                  std::count_if(nme.begin(), nme.end(), [](double v) { return v > 0.10; })) /
                  std::max(1.0, found),
              wrong_face);
  if (!fallback_nme.empty()) {
    std::printf("  of which fallback: mean %.4f median %.4f; >0.10: %zu of %zu\n",
                Mean(fallback_nme), Percentile(fallback_nme, 0.5),
                static_cast<size_t>(std::count_if(fallback_nme.begin(), fallback_nme.end(),
                                                  [](double v) { return v > 0.10; })),
                fallback_nme.size());
  }
  const char* names[5] = {"left eye", "right eye", "nose", "left mouth", "right mouth"};
  for (int k = 0; k < 5; ++k) {
    std::printf("  %-12s error %.4f  offset along eyes %+.4f, down %+.4f\n", names[k],
                point_error[k] / std::max(1.0, found), bias_x[k] / std::max(1.0, found),
                bias_y[k] / std::max(1.0, found));
  }
  const double n = std::max<double>(1.0, static_cast<double>(detected));
  std::printf("mean detected box (fractions): x %.4f y %.4f w %.4f h %.4f\n", box_sum[0] / n,
              box_sum[1] / n, box_sum[2] / n, box_sum[3] / n);
  std::printf("ms per image (1 thread): wall mean %.2f p50 %.2f p99 %.2f; CPU mean %.2f p50 %.2f\n",
              Mean(millis), Percentile(millis, 0.5), Percentile(millis, 0.99), Mean(cpu_millis),
              Percentile(cpu_millis, 0.5));
  return 0;
}
