// Quantized engine scopes: who may change LibTorch's quantized engine, and
// when.
//
// LibTorch 1.13 keeps one quantized engine per process
// (at::globalContext().qEngine()). quantized::conv2d_prepack packs weights
// for the engine set at that moment, and the packed weights run on it for
// good; but the other quantized ops of an integer forward (add, max_pool2d,
// clamp) pick their kernel from the global engine on every call. A server
// that loaded a QNNPACK student (8-bit asymmetric weights) while a oneDNN
// student was mid-forward would switch those ops under the running forward
// (and LibTorch's QNNPACK clamp scrambles channels_last tensors).
//
// Why not run every forward under one engine: a QNNPACK student's add and
// max pool then run on LibTorch's native kernels on the intra-op (OpenMP)
// pool between convs on QNNPACK's own pool, and the two pools' spinning
// threads stall each other on 2 cores: its batch-1 forward took twice as
// long (docs/BENCHMARKS.md, session 13).
//
// So each forward runs under its model's engine, and the engine changes only
// between phases:
//   - ForwardScope(e): shared with the other forwards on engine `e`; waits
//     while forwards on another engine run or a prepack is due. Phases
//     alternate: while forwards on another engine wait, no new forward joins
//     the running phase, so neither engine starves the other;
//   - PrepackScope(e): exclusive; sets `e` for its lifetime. Pending
//     prepacks go before new forwards.
// Code that sets the quantized engine behind these scopes' back breaks the
// contract; nothing in QuantFace does.
#ifndef QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_
#define QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_

#include <ATen/Context.h>

namespace qf::quant {

// Whether this LibTorch has `engine` built in.
bool QuantizedEngineSupported(at::QEngine engine);

class PrepackScope {
 public:
  // Blocks until no forward or other prepack runs, then sets `engine`.
  explicit PrepackScope(at::QEngine engine);
  ~PrepackScope();
  PrepackScope(const PrepackScope&) = delete;
  PrepackScope& operator=(const PrepackScope&) = delete;
};

class ForwardScope {
 public:
  // Blocks until `engine` is set and stays set for this scope's lifetime.
  explicit ForwardScope(at::QEngine engine);
  ~ForwardScope();
  ForwardScope(const ForwardScope&) = delete;
  ForwardScope& operator=(const ForwardScope&) = delete;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_
