#include "core/quant/quantized_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <thread>

namespace qf::quant {
namespace {

// The two engines of this Debian LibTorch (x86): the tests need both.
bool BothEngines() {
  return QuantizedEngineSupported(at::QEngine::ONEDNN) &&
         QuantizedEngineSupported(at::QEngine::QNNPACK);
}

// Not timing assertions: a thread slow to start only makes the "has not
// entered" checks below pass sooner; they fail only if it got in too early.
void GiveOtherThreadTime() { std::this_thread::sleep_for(std::chrono::milliseconds(100)); }

// Makes a scope; it lives as long as the returned pointer.
using MakeScope = std::function<std::shared_ptr<void>()>;

template <typename Scope>
MakeScope Make(at::QEngine engine) {
  return [engine] { return std::make_shared<Scope>(engine); };
}

// Holds `first` on this thread while another makes `second`: the other must
// wait until `first` is gone, and the engine must stay `first_engine` while
// it waits; once in, it must see `second_engine`.
void ExpectSecondWaitsForFirst(const MakeScope& first, at::QEngine first_engine,
                               const MakeScope& second, at::QEngine second_engine) {
  std::atomic<bool> second_in{false};
  std::atomic<bool> second_saw_its_engine{false};
  std::thread other;
  {
    const std::shared_ptr<void> held = first();
    other = std::thread([&] {
      const std::shared_ptr<void> entered = second();
      second_in = true;
      second_saw_its_engine = at::globalContext().qEngine() == second_engine;
    });
    GiveOtherThreadTime();
    EXPECT_FALSE(second_in.load()) << "the second scope got in beside the first";
    EXPECT_EQ(at::globalContext().qEngine(), first_engine);
  }
  other.join();
  EXPECT_TRUE(second_in.load());
  EXPECT_TRUE(second_saw_its_engine.load());
}

TEST(QuantizedEngineTest, ScopesSetTheirEngine) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  {
    const PrepackScope prepack(at::QEngine::QNNPACK);
    EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::QNNPACK);
  }
  {
    const ForwardScope forward(at::QEngine::ONEDNN);
    EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::ONEDNN);
  }
  const ForwardScope forward(at::QEngine::QNNPACK);
  EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::QNNPACK);
}

TEST(QuantizedEngineTest, ForwardsOnOneEngineRunSideBySide) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  const ForwardScope first(at::QEngine::ONEDNN);
  std::atomic<bool> second_in{false};
  std::thread other([&] {
    const ForwardScope second(at::QEngine::ONEDNN);
    second_in = true;
  });
  other.join();  // Would hang if forwards on one engine excluded each other.
  EXPECT_TRUE(second_in.load());
}

TEST(QuantizedEngineTest, AForwardOnAnotherEngineWaitsForTheRunningOnes) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  ExpectSecondWaitsForFirst(Make<ForwardScope>(at::QEngine::ONEDNN), at::QEngine::ONEDNN,
                            Make<ForwardScope>(at::QEngine::QNNPACK), at::QEngine::QNNPACK);
}

TEST(QuantizedEngineTest, APrepackWaitsForRunningForwards) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  // Even on the same engine: a prepack is exclusive.
  ExpectSecondWaitsForFirst(Make<ForwardScope>(at::QEngine::ONEDNN), at::QEngine::ONEDNN,
                            Make<PrepackScope>(at::QEngine::ONEDNN), at::QEngine::ONEDNN);
}

TEST(QuantizedEngineTest, AForwardWaitsForARunningPrepack) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  ExpectSecondWaitsForFirst(Make<PrepackScope>(at::QEngine::QNNPACK), at::QEngine::QNNPACK,
                            Make<ForwardScope>(at::QEngine::QNNPACK), at::QEngine::QNNPACK);
}

}  // namespace
}  // namespace qf::quant
