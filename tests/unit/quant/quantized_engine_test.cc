#include "core/quant/quantized_engine.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace qf::quant {
namespace {

TEST(QuantizedEngineTest, RunTimeEngineIsBuiltIn) {
  const at::QEngine engine = RunTimeEngine();
  ASSERT_NE(engine, at::QEngine::NoQEngine) << "this LibTorch has no quantized engine";
  EXPECT_TRUE(QuantizedEngineSupported(engine));
  // x86 LibTorch builds carry oneDNN; its non-conv ops are engine-independent.
  if (QuantizedEngineSupported(at::QEngine::ONEDNN)) {
    EXPECT_EQ(engine, at::QEngine::ONEDNN);
  }
}

TEST(QuantizedEngineTest, PrepackScopeSetsItsEngineAndPutsTheRunTimeOneBack) {
  if (!QuantizedEngineSupported(at::QEngine::QNNPACK)) GTEST_SKIP() << "no QNNPACK here";
  {
    const PrepackScope scope(at::QEngine::QNNPACK);
    EXPECT_EQ(at::globalContext().qEngine(), at::QEngine::QNNPACK);
  }
  EXPECT_EQ(at::globalContext().qEngine(), RunTimeEngine());
  const ForwardScope forward;
  EXPECT_EQ(at::globalContext().qEngine(), RunTimeEngine());
}

// A prepack (engine switch) must wait for the forward that is running.
TEST(QuantizedEngineTest, PrepackWaitsForRunningForwards) {
  std::atomic<bool> prepacking{false};
  std::thread loader;
  {
    const ForwardScope forward;
    loader = std::thread([&] {
      const PrepackScope scope(RunTimeEngine());
      prepacking = true;
    });
    // Not a timing assertion: if the loader is slow to start, the check
    // below passes anyway; it fails only if the scope got in beside us.
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_FALSE(prepacking.load()) << "a prepack ran beside a forward";
    EXPECT_EQ(at::globalContext().qEngine(), RunTimeEngine());
  }
  loader.join();
  EXPECT_TRUE(prepacking.load());
}

TEST(QuantizedEngineTest, ForwardsRunSideBySide) {
  const ForwardScope first;
  std::atomic<bool> second_in{false};
  std::thread other([&] {
    const ForwardScope second;
    second_in = true;
  });
  other.join();  // Would hang if forwards excluded each other.
  EXPECT_TRUE(second_in.load());
}

}  // namespace
}  // namespace qf::quant
