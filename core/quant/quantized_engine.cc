#include "core/quant/quantized_engine.h"

#include <algorithm>
#include <mutex>

#include "absl/base/attributes.h"
#include "absl/base/const_init.h"
#include "absl/synchronization/mutex.h"

namespace qf::quant {
namespace {

// absl::Mutex rather than std::shared_mutex: glibc's reader-writer lock
// prefers readers, so a steady stream of forwards could keep a model load
// waiting for good; absl's is documented starvation-free.
ABSL_CONST_INIT absl::Mutex engine_mutex(absl::kConstInit);

// Sets the run-time engine once, before the first scope of either kind.
void SetRunTimeEngineOnce() {
  static std::once_flag once;
  std::call_once(once, [] {
    const at::QEngine engine = RunTimeEngine();
    if (engine != at::QEngine::NoQEngine) at::globalContext().setQEngine(engine);
  });
}

}  // namespace

bool QuantizedEngineSupported(at::QEngine engine) {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), engine) != engines.end();
}

at::QEngine RunTimeEngine() {
  for (const at::QEngine engine :
       {at::QEngine::ONEDNN, at::QEngine::FBGEMM, at::QEngine::QNNPACK}) {
    if (QuantizedEngineSupported(engine)) return engine;
  }
  return at::QEngine::NoQEngine;
}

PrepackScope::PrepackScope(at::QEngine engine) {
  SetRunTimeEngineOnce();
  engine_mutex.Lock();
  at::globalContext().setQEngine(engine);
}

PrepackScope::~PrepackScope() {
  if (const at::QEngine engine = RunTimeEngine(); engine != at::QEngine::NoQEngine) {
    at::globalContext().setQEngine(engine);
  }
  engine_mutex.Unlock();
}

ForwardScope::ForwardScope() {
  SetRunTimeEngineOnce();
  engine_mutex.ReaderLock();
}

ForwardScope::~ForwardScope() { engine_mutex.ReaderUnlock(); }

}  // namespace qf::quant
