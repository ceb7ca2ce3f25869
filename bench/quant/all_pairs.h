// quant_bench all-pairs: LFW TAR at low FARs over every pair of images
// (core/eval/lfw_all_pairs.h) for a built-in model or a packed student.
//
//   quant_bench all-pairs --lfw DIR (--teacher NAME | --model FILE.qfp [--fake-quant])
//                         [--max-images-per-person 10] [--max-people N]
//                         [--threads 2] [--batch 32] [--report FILE.json]
//
// A packed student runs as the server runs it, on the integer engine
// (Int8Backbone), unless --fake-quant asks for its fake-quant simulation.
// Why a bench tool: View 2's 6,000 pairs measure TAR@1e-3 only to about
// +-4 points, too coarse to tell a 4-bit student's recipes apart
// (docs/BENCHMARKS.md); this measures it to a few tenths.
#ifndef QUANTFACE_BENCH_QUANT_ALL_PAIRS_H_
#define QUANTFACE_BENCH_QUANT_ALL_PAIRS_H_

#include <CLI/CLI.hpp>

namespace qf::bench {

// Adds the subcommand; its exit code goes to `exit_status`.
void AddAllPairsCommand(CLI::App& app, int& exit_status);

}  // namespace qf::bench

#endif  // QUANTFACE_BENCH_QUANT_ALL_PAIRS_H_
