// ProcessCollector: the standard Prometheus process metrics for this process
// (process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds,
// process_max_fds), read from /proc on every scrape.
//
// Written here because prometheus-cpp, unlike the Go and Python clients, ships
// no process collector. Linux only; on read errors a metric is left out of the
// scrape rather than reported wrong.
#ifndef QUANTFACE_SERVER_METRICS_PROCESS_COLLECTOR_H_
#define QUANTFACE_SERVER_METRICS_PROCESS_COLLECTOR_H_

#include <prometheus/collectable.h>
#include <prometheus/metric_family.h>

#include <vector>

namespace qf::server {

class ProcessCollector : public prometheus::Collectable {
 public:
  std::vector<prometheus::MetricFamily> Collect() const override;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_METRICS_PROCESS_COLLECTOR_H_
