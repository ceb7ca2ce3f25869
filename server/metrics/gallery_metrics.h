// GalleryMetrics: the Prometheus series of galleries and 1:N identification.
//
//   quantface_identify_decisions_total{outcome}  identified | unknown (per probe)
//   quantface_identify_score                     best candidate's score per probe
//   quantface_gallery_identities{gallery}        identities enrolled
//   quantface_gallery_templates{gallery}         templates enrolled
//   quantface_gallery_templates_by_model{gallery,model}  templates each model
//                                                embedded (after a switch, the
//                                                previous model's left)
//   quantface_gallery_index_build_seconds{gallery,kind}  build time at start-up / creation
//
// Thread-safe (prometheus-cpp metrics are).
#ifndef QUANTFACE_SERVER_METRICS_GALLERY_METRICS_H_
#define QUANTFACE_SERVER_METRICS_GALLERY_METRICS_H_

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <mutex>
#include <string>

namespace qf::server {

class GalleryMetrics {
 public:
  explicit GalleryMetrics(prometheus::Registry& registry);

  // `best_score` is NaN when the gallery had nothing to compare with.
  void Identified(bool any_candidate, float best_score);
  // `templates_by_model`: model resource name -> templates it embedded.
  void SetSize(const std::string& gallery_id, int64_t identities, int64_t templates,
               const std::map<std::string, int64_t>& templates_by_model);
  void SetBuildSeconds(const std::string& gallery_id, const std::string& kind, double seconds);
  void Forget(const std::string& gallery_id);

 private:
  prometheus::Family<prometheus::Counter>& decisions_;
  prometheus::Histogram& scores_;
  prometheus::Family<prometheus::Gauge>& identities_;
  prometheus::Family<prometheus::Gauge>& templates_;
  prometheus::Family<prometheus::Gauge>& templates_by_model_;
  prometheus::Family<prometheus::Gauge>& build_seconds_;
  std::mutex mutex_;  // guards the per-gallery gauge pointers below
  std::map<std::string, prometheus::Gauge*> build_gauges_;
  std::map<std::string, std::map<std::string, prometheus::Gauge*>> model_gauges_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_GALLERY_METRICS_H_
