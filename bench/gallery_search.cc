// gallery_search: 1:N search on synthetic L2-normalized embeddings, no server.
//
// For each (N, dim): exact search (FlatSearchIndex = FAISS IndexFlatIP) per
// query, single and batched; a naive loop over the same rows; approximate
// search (HnswSearchIndex) latency and recall@10 against exact; add times and
// resident memory. With --enroll N, also the time to enrol N one-template
// identities through gallery::Galleries (SQLite commit + index add). With
// --mixed-gaps, Identify on a gallery whose templates come from two models
// with different thresholds (a gallery switched from a teacher to its
// student): how often GalleryIndex asks the index again to settle the top k.
//
// Queries are noisy copies of gallery rows (cosine about 0.7 to their
// source), like probes of enrolled people, not uniform random points.
// Numbers go to docs/BENCHMARKS.md with the command that produced them.
#include <omp.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "core/gallery/counting_search_index.h"
#include "core/gallery/flat_search_index.h"
#include "core/gallery/galleries.h"
#include "core/gallery/gallery_index.h"
#include "core/gallery/hnsw_search_index.h"
#include "faiss/utils/distances.h"

namespace {

using Clock = std::chrono::steady_clock;
using qf::gallery::SearchHit;

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double ResidentMiB() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1 << 20);
}

double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  return values[values.size() / 2];
}

void Normalize(float* row, int dim) {
  double norm = 0;
  for (int j = 0; j < dim; ++j) norm += static_cast<double>(row[j]) * row[j];
  const float scale = static_cast<float>(1.0 / std::sqrt(norm));
  for (int j = 0; j < dim; ++j) row[j] *= scale;
}

std::vector<float> RandomRows(int64_t n, int dim, unsigned seed) {
  std::vector<float> rows(static_cast<size_t>(n) * dim);
#pragma omp parallel
  {
    std::mt19937 rng(seed + 7919 * omp_get_thread_num());
    std::normal_distribution<float> normal;
#pragma omp for
    for (int64_t i = 0; i < n; ++i) {
      float* row = rows.data() + i * dim;
      for (int j = 0; j < dim; ++j) row[j] = normal(rng);
      Normalize(row, dim);
    }
  }
  return rows;
}

// Noisy copies of random gallery rows: cosine about 0.7 to the source.
std::vector<float> Probes(const std::vector<float>& rows, int64_t n, int dim, int count) {
  std::mt19937 rng(99);
  std::uniform_int_distribution<int64_t> pick(0, n - 1);
  std::normal_distribution<float> normal(0.0f, 1.0f / std::sqrt(static_cast<float>(dim)));
  std::vector<float> probes(static_cast<size_t>(count) * dim);
  for (int q = 0; q < count; ++q) {
    const float* source = rows.data() + pick(rng) * dim;
    for (int j = 0; j < dim; ++j) probes[q * dim + j] = source[j] + normal(rng);
    Normalize(probes.data() + q * dim, dim);
  }
  return probes;
}

// The baseline: every dot product in a plain loop, then a partial sort.
std::vector<SearchHit> NaiveTopK(const std::vector<float>& rows, int64_t n, int dim,
                                 const float* query, int k) {
  std::vector<SearchHit> hits(n);
  for (int64_t i = 0; i < n; ++i) {
    const float* row = rows.data() + i * dim;
    float dot = 0;
    for (int j = 0; j < dim; ++j) dot += row[j] * query[j];
    hits[i] = {i, dot};
  }
  std::partial_sort(hits.begin(), hits.begin() + k, hits.end(),
                    [](const SearchHit& a, const SearchHit& b) { return a.score > b.score; });
  hits.resize(k);
  return hits;
}

std::vector<float> Row(const std::vector<float>& rows, int i, int dim) {
  return std::vector<float>(rows.begin() + static_cast<size_t>(i) * dim,
                            rows.begin() + static_cast<size_t>(i + 1) * dim);
}

void RunSearch(int64_t n, int dim, int queries, int batch, int naive_queries, int64_t hnsw_max) {
  constexpr int kTopK = 10;
  const double rss_before_data = ResidentMiB();
  const std::vector<float> rows = RandomRows(n, dim, 1);
  const std::vector<float> probes = Probes(rows, n, dim, std::max(queries, batch));
  std::vector<int64_t> ids(n);
  for (int64_t i = 0; i < n; ++i) ids[i] = i;
  const double rss_data = ResidentMiB();

  qf::gallery::FlatSearchIndex flat(dim);
  auto start = Clock::now();
  if (!flat.Add(ids, rows).ok()) std::abort();
  const double flat_add = Seconds(start);
  const double flat_mib = ResidentMiB() - rss_data;

  std::vector<double> single_ms;
  std::vector<std::vector<SearchHit>> exact(queries);
  for (int q = 0; q < queries; ++q) {
    const auto query = Row(probes, q, dim);
    start = Clock::now();
    auto hits = flat.Search(query, kTopK);
    single_ms.push_back(Seconds(start) * 1e3);
    exact[q] = (*hits)[0];
  }
  const std::vector<float> batch_queries(probes.begin(), probes.begin() + batch * dim);
  std::vector<double> batch_ms;
  for (int repeat = 0; repeat < 3; ++repeat) {
    start = Clock::now();
    auto hits = flat.Search(batch_queries, kTopK);
    batch_ms.push_back(Seconds(start) * 1e3 / batch);
  }

  std::vector<double> naive_ms;
  int naive_agree = 0;
  for (int q = 0; q < naive_queries; ++q) {
    start = Clock::now();
    const auto hits = NaiveTopK(rows, n, dim, probes.data() + q * dim, kTopK);
    naive_ms.push_back(Seconds(start) * 1e3);
    naive_agree += hits[0].id == exact[q][0].id;
  }

  std::string hnsw_cells = "| skipped | | | |";
  if (n <= hnsw_max) {
    qf::gallery::HnswSearchIndex hnsw(dim, qf::gallery::HnswOptions{});
    const double rss = ResidentMiB();
    start = Clock::now();
    if (!hnsw.Add(ids, rows).ok()) std::abort();
    const double hnsw_add = Seconds(start);
    const double hnsw_mib = ResidentMiB() - rss;
    std::vector<double> hnsw_ms;
    int found = 0;
    for (int q = 0; q < queries; ++q) {
      const auto query = Row(probes, q, dim);
      start = Clock::now();
      auto hits = hnsw.Search(query, kTopK);
      hnsw_ms.push_back(Seconds(start) * 1e3);
      std::set<int64_t> truth;
      for (const auto& hit : exact[q]) truth.insert(hit.id);
      for (const auto& hit : (*hits)[0]) found += truth.count(hit.id);
    }
    char cells[200];
    std::snprintf(cells, sizeof(cells), "| %.1f s | %.0f MiB | %.3f ms | %.3f |", hnsw_add,
                  hnsw_mib, Median(hnsw_ms), found / (10.0 * queries));
    hnsw_cells = cells;
  }
  std::printf("| %ld | %d | %.2f s | %.0f MiB | %.3f ms | %.4f ms | %.3f ms | %d/%d %s\n",
              static_cast<long>(n), dim, flat_add, flat_mib, Median(single_ms), Median(batch_ms),
              Median(naive_ms), naive_agree, naive_queries, hnsw_cells.c_str());
  std::fflush(stdout);
  (void)rss_before_data;
}

void RunEnroll(int64_t n, int dim, const std::string& kind, int per_transaction) {
  const std::string dir = std::filesystem::temp_directory_path().string() + "/qf_gallery_bench_" +
                          std::to_string(getpid());
  std::filesystem::create_directories(dir);
  const std::vector<float> rows = RandomRows(n, dim, 2);
  auto galleries = qf::gallery::Galleries::Open(dir + "/galleries.db", kind);
  if (!galleries.ok()) std::abort();
  qf::gallery::GalleryRecord record;
  record.gallery_id = "bench";
  record.model = "models/synthetic";
  record.dimension = dim;
  if (!(*galleries)->Create(record).ok()) std::abort();
  auto start = Clock::now();
  for (int64_t first = 0; first < n; first += per_transaction) {
    std::vector<qf::gallery::EnrollItem> items;
    for (int64_t i = first; i < std::min(n, first + per_transaction); ++i) {
      qf::gallery::EnrollItem item;
      item.identity_id = "person-" + std::to_string(i);
      item.embeddings.push_back(Row(rows, static_cast<int>(i), dim));
      items.push_back(std::move(item));
    }
    auto result = (*galleries)->Enroll("bench", items);
    if (!result.ok()) {
      std::fprintf(stderr, "%s\n", std::string(result.status().message()).c_str());
      std::abort();
    }
  }
  const double enroll = Seconds(start);
  galleries->reset();
  start = Clock::now();
  auto reopened = qf::gallery::Galleries::Open(dir + "/galleries.db", kind);
  const double rebuild = Seconds(start);
  const auto bytes = std::filesystem::file_size(dir + "/galleries.db");
  std::printf("| %ld | %d | %s | %d | %.1f s | %.1f s | %.0f MiB |\n", static_cast<long>(n), dim,
              kind.c_str(), per_transaction, enroll, rebuild, bytes / double(1 << 20));
  reopened->reset();
  std::filesystem::remove_all(dir);
}

// One-template identities, alternately embedded by a "teacher" and a
// "student" model; teacher templates are decided `gap` below the student's
// threshold, as a switched gallery's cross-model thresholds are. Probes:
// noisy copies of enrolled rows (mated) and rows never enrolled (non-mated).
void RunMixed(int64_t n, int dim, int queries, int top_k, const std::vector<float>& gaps) {
  constexpr float kStudentThreshold = 0.27f;  // About FAR 1e-3 for random 128-d rows.
  const std::vector<float> rows = RandomRows(n, dim, 3);
  std::atomic<int64_t> scans{0};
  qf::gallery::GalleryRecord record;
  record.gallery_id = "mixed";
  record.model = "models/student";
  record.dimension = dim;
  qf::gallery::GalleryIndex index(record,
                                  std::make_unique<qf::gallery::CountingSearchIndex>(
                                      std::make_unique<qf::gallery::FlatSearchIndex>(dim), &scans));
  for (int64_t i = 0; i < n; ++i) {
    qf::gallery::IdentityRecord identity;
    identity.identity_key = i;
    identity.identity_id = "person-" + std::to_string(i);
    const std::string model = i % 2 == 0 ? "models/teacher" : "models/student";
    if (!index.Put(identity, model, {i}, {Row(rows, static_cast<int>(i), dim)}).ok()) std::abort();
  }
  const std::vector<float> mated = Probes(rows, n, dim, queries);
  const std::vector<float> non_mated = RandomRows(queries, dim, 4);
  for (const float gap : gaps) {
    const qf::gallery::ThresholdByModel thresholds = {{"models/student", kStudentThreshold},
                                                      {"models/teacher", kStudentThreshold - gap}};
    for (const auto& [kind, probes] :
         {std::pair<const char*, const std::vector<float>*>{"mated", &mated},
          {"non-mated", &non_mated}}) {
      std::vector<double> ms;
      int64_t most = 0;
      const int64_t before = scans.load();
      for (int q = 0; q < queries; ++q) {
        const int64_t scans_before = scans.load();
        const auto start = Clock::now();
        auto found = index.Identify({Row(*probes, q, dim)}, top_k, {}, thresholds);
        ms.push_back(Seconds(start) * 1e3);
        if (!found.ok()) std::abort();
        most = std::max(most, scans.load() - scans_before);
      }
      double total_ms = 0;
      for (double one : ms) total_ms += one;
      std::printf("| %ld | %d | %d | %.3f | %s | %.2f | %ld | %.3f ms | %.3f ms |\n",
                  static_cast<long>(n), dim, top_k, gap, kind,
                  static_cast<double>(scans.load() - before) / queries, static_cast<long>(most),
                  Median(ms), total_ms / queries);
      std::fflush(stdout);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"1:N search benchmark on synthetic embeddings (FAISS flat/HNSW vs naive)"};
  std::string sizes = "10000,100000,1000000";
  std::string dims = "128,1024";
  int queries = 50;
  int batch = 256;
  int naive_queries = 10;
  int64_t hnsw_max = 100000;
  int64_t max_elements = 300000000;  // rows x dim; 1M x 1024 is 1.0e9 floats
  int64_t enroll = 0;
  std::string enroll_kind = "flat";
  int per_transaction = 10000;
  int threads = 0;
  int blas_threshold = -1;
  std::string mixed_gaps;
  int top_k = 5;
  app.add_option("--sizes", sizes, "Gallery sizes N, comma separated");
  app.add_option("--dims", dims, "Dimensions, comma separated");
  app.add_option("--queries", queries, "Single queries timed per configuration");
  app.add_option("--batch", batch, "Queries in the batched search");
  app.add_option("--naive-queries", naive_queries, "Queries for the naive loop");
  app.add_option("--hnsw-max", hnsw_max, "Largest N that also builds an HNSW index");
  app.add_option("--max-elements", max_elements, "Skip configurations with N x dim above this");
  app.add_option("--enroll", enroll, "Also time enrolling this many identities (0 = no)");
  app.add_option("--enroll-index", enroll_kind, "Index kind for --enroll (flat or hnsw)");
  app.add_option("--per-transaction", per_transaction, "Identities per Enroll call for --enroll");
  app.add_option("--threads", threads, "OpenMP threads (0 = default)");
  app.add_option("--blas-threshold", blas_threshold,
                 "faiss::distance_compute_blas_threshold (-1 = keep FAISS default)");
  app.add_option("--mixed-gaps", mixed_gaps,
                 "Instead of the above: Identify on two-model galleries, teacher thresholds this "
                 "far below the student's (comma separated, e.g. 0,0.03)");
  app.add_option("--top-k", top_k, "Identities per probe for --mixed-gaps");
  CLI11_PARSE(app, argc, argv);
  if (blas_threshold >= 0) faiss::distance_compute_blas_threshold = blas_threshold;
  if (threads > 0) omp_set_num_threads(threads);

  std::printf("OpenMP threads: %d\n\n", omp_get_max_threads());
  if (!mixed_gaps.empty()) {
    std::vector<float> gaps;
    for (const auto& gap : absl::StrSplit(mixed_gaps, ','))
      gaps.push_back(std::stof(std::string(gap)));
    std::printf(
        "| N | dim | top k | threshold gap | probes | searches per Identify (mean) | most | "
        "Identify median | Identify mean |\n|---|---|---|---|---|---|---|---|---|\n");
    for (const auto& dim_text : absl::StrSplit(dims, ',')) {
      for (const auto& size_text : absl::StrSplit(sizes, ',')) {
        RunMixed(std::stoll(std::string(size_text)), std::stoi(std::string(dim_text)), queries,
                 top_k, gaps);
      }
    }
    return 0;
  }
  std::printf(
      "| N | dim | flat add | flat memory | exact 1 query | exact batched, per query | naive 1 "
      "query | naive top-1 = exact | hnsw build | hnsw memory | hnsw 1 query | hnsw recall@10 "
      "|\n|---|---|---|---|---|---|---|---|---|---|---|---|\n");
  for (const auto& dim_text : absl::StrSplit(dims, ',')) {
    for (const auto& size_text : absl::StrSplit(sizes, ',')) {
      const int dim = std::stoi(std::string(dim_text));
      const int64_t n = std::stoll(std::string(size_text));
      if (n * dim > max_elements) {
        std::printf("| %ld | %d | skipped: N x dim above --max-elements |\n", static_cast<long>(n),
                    dim);
        continue;
      }
      RunSearch(n, dim, queries, batch, naive_queries, hnsw_max);
    }
  }
  if (enroll > 0) {
    std::printf(
        "\n| identities | dim | index | per Enroll call | enroll (store commit + index add) | "
        "reopen + rebuild index | database size |\n|---|---|---|---|---|---|---|\n");
    for (const auto& dim_text : absl::StrSplit(dims, ',')) {
      RunEnroll(enroll, std::stoi(std::string(dim_text)), enroll_kind, per_transaction);
    }
  }
  return 0;
}
