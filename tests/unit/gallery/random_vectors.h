// Random L2-normalized vectors for the gallery tests (fixed seeds).
#ifndef QUANTFACE_TESTS_UNIT_GALLERY_RANDOM_VECTORS_H_
#define QUANTFACE_TESTS_UNIT_GALLERY_RANDOM_VECTORS_H_

#include <cmath>
#include <random>
#include <vector>

namespace qf::gallery::testing {

// n rows of dim floats, each row of unit length.
inline std::vector<float> RandomUnitRows(int n, int dim, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal;
  std::vector<float> rows(static_cast<size_t>(n) * dim);
  for (int i = 0; i < n; ++i) {
    double norm = 0;
    for (int j = 0; j < dim; ++j) {
      rows[i * dim + j] = normal(rng);
      norm += rows[i * dim + j] * rows[i * dim + j];
    }
    for (int j = 0; j < dim; ++j) rows[i * dim + j] /= static_cast<float>(std::sqrt(norm));
  }
  return rows;
}

inline std::vector<float> Row(const std::vector<float>& rows, int i, int dim) {
  return std::vector<float>(rows.begin() + i * dim, rows.begin() + (i + 1) * dim);
}

}  // namespace qf::gallery::testing

#endif  // QUANTFACE_TESTS_UNIT_GALLERY_RANDOM_VECTORS_H_
