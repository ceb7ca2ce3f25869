#include "core/quant/quantized_engine.h"

#include <algorithm>
#include <condition_variable>
#include <map>
#include <mutex>

namespace qf::quant {
namespace {

// Who holds the process's quantized engine (see the header). A phase-fair
// reader-writer lock whose readers come in kinds (engines); written here
// because neither the standard library nor absl has one.
class EngineTurns {
 public:
  void BeginForward(at::QEngine engine) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_[engine];
    changed_.wait(lock, [&] { return ForwardMayStart(engine); });
    --waiting_[engine];
    if (forwards_ == 0) {
      at::globalContext().setQEngine(engine);
      engine_ = engine;
    }
    ++forwards_;
  }

  void EndForward() {
    std::lock_guard<std::mutex> lock(mutex_);
    if (--forwards_ == 0) changed_.notify_all();
  }

  void BeginPrepack(at::QEngine engine) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++waiting_prepacks_;
    changed_.wait(lock, [&] { return !prepacking_ && forwards_ == 0; });
    --waiting_prepacks_;
    prepacking_ = true;
    at::globalContext().setQEngine(engine);
    engine_ = engine;
  }

  void EndPrepack() {
    std::lock_guard<std::mutex> lock(mutex_);
    prepacking_ = false;
    changed_.notify_all();
  }

 private:
  bool ForwardMayStart(at::QEngine engine) const {
    if (prepacking_ || waiting_prepacks_ > 0) return false;
    const bool others_waiting = std::any_of(waiting_.begin(), waiting_.end(), [&](const auto& w) {
      return w.first != engine && w.second > 0;
    });
    // Join the running phase unless another engine waits for its turn.
    if (forwards_ > 0) return engine_ == engine && !others_waiting;
    // Between phases, the engine that did not run last goes first.
    return !others_waiting || engine != engine_;
  }

  std::mutex mutex_;
  std::condition_variable changed_;
  bool prepacking_ = false;
  int waiting_prepacks_ = 0;
  int forwards_ = 0;                             // Running, all on engine_.
  at::QEngine engine_ = at::QEngine::NoQEngine;  // Set last.
  std::map<at::QEngine, int> waiting_;           // Forwards waiting, by engine.
};

EngineTurns& Turns() {
  static EngineTurns turns;
  return turns;
}

}  // namespace

bool QuantizedEngineSupported(at::QEngine engine) {
  const auto& engines = at::globalContext().supportedQEngines();
  return std::find(engines.begin(), engines.end(), engine) != engines.end();
}

PrepackScope::PrepackScope(at::QEngine engine) { Turns().BeginPrepack(engine); }

PrepackScope::~PrepackScope() { Turns().EndPrepack(); }

ForwardScope::ForwardScope(at::QEngine engine) { Turns().BeginForward(engine); }

ForwardScope::~ForwardScope() { Turns().EndForward(); }

}  // namespace qf::quant
