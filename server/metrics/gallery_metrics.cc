#include "server/metrics/gallery_metrics.h"

#include <cmath>

namespace qf::server {

GalleryMetrics::GalleryMetrics(prometheus::Registry& registry)
    : decisions_(prometheus::BuildCounter()
                     .Name("quantface_identify_decisions_total")
                     .Help("1:N identification outcomes per probe (identified / unknown).")
                     .Register(registry)),
      scores_(prometheus::BuildHistogram()
                  .Name("quantface_identify_score")
                  .Help("Best candidate's cosine similarity per identified probe.")
                  .Register(registry)
                  .Add({}, prometheus::Histogram::BucketBoundaries{-0.2, 0.0, 0.1, 0.2, 0.3, 0.4,
                                                                   0.5, 0.6, 0.7, 0.8, 0.9, 1.0})),
      identities_(prometheus::BuildGauge()
                      .Name("quantface_gallery_identities")
                      .Help("Identities enrolled in each gallery.")
                      .Register(registry)),
      templates_(prometheus::BuildGauge()
                     .Name("quantface_gallery_templates")
                     .Help("Templates (embeddings) enrolled in each gallery.")
                     .Register(registry)),
      templates_by_model_(prometheus::BuildGauge()
                              .Name("quantface_gallery_templates_by_model")
                              .Help("Templates of each gallery by the model that embedded them.")
                              .Register(registry)),
      build_seconds_(prometheus::BuildGauge()
                         .Name("quantface_gallery_index_build_seconds")
                         .Help("Time to build a gallery's search index from the store.")
                         .Register(registry)) {}

void GalleryMetrics::Identified(bool any_candidate, float best_score) {
  decisions_.Add({{"outcome", any_candidate ? "identified" : "unknown"}}).Increment();
  if (!std::isnan(best_score)) scores_.Observe(best_score);
}

void GalleryMetrics::SetSize(const std::string& gallery_id, int64_t identities, int64_t templates,
                             const std::map<std::string, int64_t>& templates_by_model) {
  identities_.Add({{"gallery", gallery_id}}).Set(static_cast<double>(identities));
  templates_.Add({{"gallery", gallery_id}}).Set(static_cast<double>(templates));
  std::lock_guard lock(mutex_);
  auto& gauges = model_gauges_[gallery_id];
  // A model whose last template went is dropped, not left at 0 forever.
  for (auto it = gauges.begin(); it != gauges.end();) {
    if (templates_by_model.count(it->first) > 0) {
      ++it;
      continue;
    }
    templates_by_model_.Remove(it->second);
    it = gauges.erase(it);
  }
  for (const auto& [model, count] : templates_by_model) {
    prometheus::Gauge*& gauge = gauges[model];
    if (gauge == nullptr) {
      gauge = &templates_by_model_.Add({{"gallery", gallery_id}, {"model", model}});
    }
    gauge->Set(static_cast<double>(count));
  }
}

void GalleryMetrics::SetBuildSeconds(const std::string& gallery_id, const std::string& kind,
                                     double seconds) {
  std::lock_guard lock(mutex_);
  prometheus::Gauge& gauge = build_seconds_.Add({{"gallery", gallery_id}, {"kind", kind}});
  gauge.Set(seconds);
  build_gauges_[gallery_id] = &gauge;
}

void GalleryMetrics::Forget(const std::string& gallery_id) {
  identities_.Remove(&identities_.Add({{"gallery", gallery_id}}));
  templates_.Remove(&templates_.Add({{"gallery", gallery_id}}));
  std::lock_guard lock(mutex_);
  if (auto it = model_gauges_.find(gallery_id); it != model_gauges_.end()) {
    for (const auto& [model, gauge] : it->second) templates_by_model_.Remove(gauge);
    model_gauges_.erase(it);
  }
  if (auto it = build_gauges_.find(gallery_id); it != build_gauges_.end()) {
    build_seconds_.Remove(it->second);
    build_gauges_.erase(it);
  }
}

}  // namespace qf::server
