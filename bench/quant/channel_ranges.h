// quant_bench channel-ranges: how unequal the channels of each quantized
// activation are, site by site, on the full-precision model.
//
// Every conv/linear input and residual-add operand is quantized per tensor,
// so a site whose channels span very different ranges spends most of its
// grid on a few wide channels: at 4 bits (15 steps) a channel whose span is
// under one step of the tensor's is rounded to at most two values. For each
// site the tool prints the tensor's span (max - min over the batch), the
// median and 10th percentile of the channels' spans relative to it, and how
// many channels span less than one 4-bit step of a min/max grid. With
// --equalize S,... it then equalizes dlib-resnet's residual stream at each
// strength (core/quant/residual_stream_equalizer.h) and prints the float
// and PTQ (w4a4, w8a4, w4a8 at the paper's points) embedding cosines.
//
// Why a bench tool: it tells whether rescaling channels (which leaves the
// float function unchanged where a ReLU sits between writer and reader) could
// give a per-tensor low-bit grid to more channels (docs/BENCHMARKS.md).
#ifndef QUANTFACE_BENCH_QUANT_CHANNEL_RANGES_H_
#define QUANTFACE_BENCH_QUANT_CHANNEL_RANGES_H_

#include <CLI/CLI.hpp>

namespace qf::bench {

// Adds the subcommand; its exit code goes to `exit_status`.
void AddChannelRangesCommand(CLI::App& app, int& exit_status);

}  // namespace qf::bench

#endif  // QUANTFACE_BENCH_QUANT_CHANNEL_RANGES_H_
