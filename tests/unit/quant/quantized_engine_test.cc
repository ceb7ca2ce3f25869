#include "core/quant/quantized_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
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
  std::atomic<bool> qnnpack_in{false};
  std::thread other;
  {
    const ForwardScope onednn(at::QEngine::ONEDNN);
    other = std::thread([&] {
      const ForwardScope qnnpack(at::QEngine::QNNPACK);
      qnnpack_in = true;
      EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::QNNPACK);
    });
    GiveOtherThreadTime();
    EXPECT_FALSE(qnnpack_in.load()) << "the engine changed under a running forward";
    EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::ONEDNN);
  }
  other.join();
  EXPECT_TRUE(qnnpack_in.load());
}

TEST(QuantizedEngineTest, APrepackWaitsForRunningForwards) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  std::atomic<bool> prepacking{false};
  std::thread loader;
  {
    const ForwardScope forward(at::QEngine::ONEDNN);
    loader = std::thread([&] {
      const PrepackScope prepack(at::QEngine::ONEDNN);  // Even on the same engine.
      prepacking = true;
    });
    GiveOtherThreadTime();
    EXPECT_FALSE(prepacking.load()) << "a prepack ran beside a forward";
  }
  loader.join();
  EXPECT_TRUE(prepacking.load());
}

TEST(QuantizedEngineTest, AForwardWaitsForARunningPrepack) {
  if (!BothEngines()) GTEST_SKIP() << "needs oneDNN and QNNPACK";
  std::atomic<bool> forward_in{false};
  std::thread other;
  {
    const PrepackScope prepack(at::QEngine::QNNPACK);
    other = std::thread([&] {
      const ForwardScope forward(at::QEngine::QNNPACK);
      forward_in = true;
    });
    GiveOtherThreadTime();
    EXPECT_FALSE(forward_in.load()) << "a forward ran beside a prepack";
  }
  other.join();
  EXPECT_TRUE(forward_in.load());
}

}  // namespace
}  // namespace qf::quant
