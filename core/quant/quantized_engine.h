// Quantized engine scopes: who may change LibTorch's quantized engine, and
// when.
//
// LibTorch 1.13 keeps one quantized engine per process
// (at::globalContext().qEngine()). quantized::conv2d_prepack packs weights
// for the engine set at that moment, and the packed weights run on it for
// good; but the other quantized ops of an integer forward (add, max_pool2d,
// clamp) pick their kernel from the global engine on every call. A server
// that loaded a QNNPACK student (8-bit asymmetric weights) while a oneDNN
// student was mid-forward would switch those ops under the running forward,
// and LibTorch's QNNPACK clamp scrambles channels_last tensors.
//
// So every integer forward runs under one fixed engine, RunTimeEngine(), and
// the engine changes only to prepack, while no forward runs:
//   - PrepackScope (exclusive): sets an engine for its lifetime and puts the
//     run-time engine back at the end;
//   - ForwardScope (shared): any number at once, never beside a PrepackScope.
// The run-time engine is the first built in of oneDNN, FBGEMM and QNNPACK:
// under the first two the non-conv quantized ops are LibTorch's own
// engine-independent kernels, which take conv outputs of any engine.
//
// Code that sets the quantized engine behind these scopes' back breaks the
// contract; nothing in QuantFace does.
#ifndef QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_
#define QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_

#include <ATen/Context.h>

namespace qf::quant {

// Whether this LibTorch has `engine` built in.
bool QuantizedEngineSupported(at::QEngine engine);

// The engine integer forwards run under (see above); at::QEngine::NoQEngine
// when LibTorch has no quantized engine at all.
at::QEngine RunTimeEngine();

class PrepackScope {
 public:
  // Blocks until no ForwardScope or other PrepackScope is alive, then sets
  // `engine`.
  explicit PrepackScope(at::QEngine engine);
  ~PrepackScope();
  PrepackScope(const PrepackScope&) = delete;
  PrepackScope& operator=(const PrepackScope&) = delete;
};

class ForwardScope {
 public:
  // Blocks while a PrepackScope is alive; the run-time engine is set for
  // this scope's lifetime.
  ForwardScope();
  ~ForwardScope();
  ForwardScope(const ForwardScope&) = delete;
  ForwardScope& operator=(const ForwardScope&) = delete;
};

}  // namespace qf::quant

#endif  // QUANTFACE_CORE_QUANT_QUANTIZED_ENGINE_H_
