#include "server/metrics/process_collector.h"

#include <sys/resource.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace qf::server {
namespace {

prometheus::MetricFamily Family(const std::string& name, const std::string& help,
                                prometheus::MetricType type, double value) {
  prometheus::ClientMetric metric;
  if (type == prometheus::MetricType::Counter) {
    metric.counter.value = value;
  } else {
    metric.gauge.value = value;
  }
  return prometheus::MetricFamily{name, help, type, {metric}};
}

// Fields of /proc/self/stat after the command name, which may contain spaces:
// everything after the last ')' splits cleanly on whitespace.
bool ReadProcStat(std::vector<std::string>& fields) {
  std::ifstream in("/proc/self/stat");
  std::string line;
  if (!std::getline(in, line)) return false;
  const auto close = line.rfind(')');
  if (close == std::string::npos) return false;
  std::istringstream rest(line.substr(close + 1));
  std::string field;
  while (rest >> field) fields.push_back(field);
  return fields.size() > 22;
}

double BootTimeSeconds() {
  std::ifstream in("/proc/stat");
  std::string key;
  double value = 0;
  while (in >> key) {
    if (key == "btime") {
      in >> value;
      return value;
    }
    in.ignore(1 << 20, '\n');
  }
  return 0;
}

}  // namespace

std::vector<prometheus::MetricFamily> ProcessCollector::Collect() const {
  using prometheus::MetricType;
  std::vector<prometheus::MetricFamily> families;
  std::vector<std::string> stat;
  if (ReadProcStat(stat)) {
    // After ')': state(0) ... utime(11) stime(12) ... starttime(19) vsize(20) rss(21).
    const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
    const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
    const double cpu = (std::stod(stat[11]) + std::stod(stat[12])) / ticks;
    families.push_back(Family("process_cpu_seconds_total", "Total user and system CPU time.",
                              MetricType::Counter, cpu));
    families.push_back(Family("process_virtual_memory_bytes", "Virtual memory size.",
                              MetricType::Gauge, std::stod(stat[20])));
    families.push_back(Family("process_resident_memory_bytes", "Resident memory size.",
                              MetricType::Gauge, std::stod(stat[21]) * page));
    const double boot = BootTimeSeconds();
    if (boot > 0) {
      families.push_back(Family("process_start_time_seconds",
                                "Start time of the process since the Unix epoch.",
                                MetricType::Gauge, boot + std::stod(stat[19]) / ticks));
    }
  }
  std::error_code error;
  std::filesystem::directory_iterator fds("/proc/self/fd", error);
  if (!error) {
    double open = 0;
    for (auto it = std::filesystem::begin(fds); it != std::filesystem::end(fds);
         it.increment(error)) {
      if (error) break;
      ++open;
    }
    families.push_back(
        Family("process_open_fds", "Open file descriptors.", MetricType::Gauge, open));
  }
  rlimit limit{};
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    families.push_back(Family("process_max_fds", "Maximum open file descriptors.",
                              MetricType::Gauge, static_cast<double>(limit.rlim_cur)));
  }
  return families;
}

}  // namespace qf::server
