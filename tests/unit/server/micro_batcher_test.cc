// MicroBatcher with a fake forward function: 1x1 "crops" carry a number, and
// the fake model answers each crop with the row {number, batch number}, so a
// test sees both which row a caller got and which batch computed it.
#include "server/micro_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <thread>

namespace qf::server {
namespace {

using Row = MicroBatcher::Row;
using std::chrono::milliseconds;

cv::Mat Crop(float value) { return cv::Mat(1, 1, CV_32F, cv::Scalar(value)); }

CallControl Within(milliseconds timeout) {
  CallControl control;
  control.deadline = std::chrono::steady_clock::now() + timeout;
  return control;
}

// The fake model. While closed (Close()), forwards wait at the gate, so a test
// can hold a batch in flight.
class FakeModel {
 public:
  absl::StatusOr<std::vector<Row>> Forward(const std::vector<cv::Mat>& crops) {
    std::unique_lock<std::mutex> lock(mutex_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    std::vector<float> values;
    for (const cv::Mat& crop : crops) values.push_back(crop.at<float>(0, 0));
    batches_.push_back(values);
    if (!error_.ok()) return error_;
    std::vector<Row> rows;
    for (float value : values) rows.push_back({value, static_cast<float>(batches_.size())});
    if (drop_a_row_) rows.pop_back();
    return rows;
  }
  MicroBatcher::Forward AsForward() {
    return [this](const std::vector<cv::Mat>& crops) { return Forward(crops); };
  }

  void Close() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = false;
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mutex_);
    open_ = true;
    changed_.notify_all();
  }
  // Blocks until `count` forwards have started.
  void AwaitEntered(int count) {
    std::unique_lock<std::mutex> lock(mutex_);
    changed_.wait(lock, [&] { return entered_ >= count; });
  }
  void Fail(absl::Status error) { error_ = std::move(error); }
  void DropARow() { drop_a_row_ = true; }
  std::vector<std::vector<float>> batches() {
    std::lock_guard<std::mutex> lock(mutex_);
    return batches_;
  }

 private:
  std::mutex mutex_;
  std::condition_variable changed_;
  bool open_ = true;
  int entered_ = 0;
  absl::Status error_;
  bool drop_a_row_ = false;
  std::vector<std::vector<float>> batches_;
};

MicroBatchOptions Options(int max_batch, milliseconds max_wait, int max_queue = 1024) {
  MicroBatchOptions options;
  options.max_batch = max_batch;
  options.max_wait = max_wait;
  options.max_queue = max_queue;
  return options;
}

TEST(MicroBatcherTest, ConcurrentCallersShareABatchAndEachGetsItsOwnRows) {
  FakeModel model;
  std::vector<int> observed;
  std::mutex observed_mutex;
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/9, milliseconds(2000)),
                       [&](int size) {
                         std::lock_guard<std::mutex> lock(observed_mutex);
                         observed.push_back(size);
                       });
  constexpr int kCallers = 7;
  std::vector<std::future<absl::StatusOr<std::vector<Row>>>> calls;
  for (int i = 0; i < kCallers; ++i) {
    calls.push_back(std::async(std::launch::async, [&batcher, i] {
      return batcher.Submit({Crop(static_cast<float>(i))}, Within(milliseconds(30000)));
    }));
  }
  // One caller with two faces: its rows come back in its order.
  auto pair = std::async(std::launch::async, [&batcher] {
    return batcher.Submit({Crop(100), Crop(101)}, Within(milliseconds(30000)));
  });
  for (int i = 0; i < kCallers; ++i) {
    const auto rows = calls[i].get();
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 1u);
    EXPECT_EQ((*rows)[0][0], static_cast<float>(i));
  }
  const auto pair_rows = pair.get();
  ASSERT_TRUE(pair_rows.ok()) << pair_rows.status();
  ASSERT_EQ(pair_rows->size(), 2u);
  EXPECT_EQ((*pair_rows)[0][0], 100.0f);
  EXPECT_EQ((*pair_rows)[1][0], 101.0f);
  // 9 faces and max_batch 9: the batch ran as soon as it was full, in one
  // forward (max_wait is 2 s, so it cannot have closed early by time).
  EXPECT_EQ(observed, std::vector<int>({9}));
  EXPECT_EQ(model.batches().size(), 1u);
}

TEST(MicroBatcherTest, BatchesNeverExceedMaxBatchAndKeepRequestsWhole) {
  FakeModel model;
  model.Close();
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/4, milliseconds(0)));
  // The first request holds the runner, so the others queue up behind it.
  auto first = std::async(std::launch::async,
                          [&] { return batcher.Submit({Crop(0)}, Within(milliseconds(30000))); });
  model.AwaitEntered(1);
  std::vector<std::future<absl::StatusOr<std::vector<Row>>>> calls;
  for (int i = 1; i <= 3; ++i) {
    calls.push_back(std::async(std::launch::async, [&batcher, i] {
      return batcher.Submit({Crop(10.0f * i), Crop(10.0f * i + 1)}, Within(milliseconds(30000)));
    }));
  }
  std::this_thread::sleep_for(milliseconds(100));  // Let them queue.
  model.Open();
  ASSERT_TRUE(first.get().ok());
  for (int i = 0; i < 3; ++i) {
    const auto rows = calls[i].get();
    ASSERT_TRUE(rows.ok()) << rows.status();
    ASSERT_EQ(rows->size(), 2u);
    EXPECT_EQ((*rows)[0][0] + 1, (*rows)[1][0]);
    EXPECT_EQ((*rows)[0][1], (*rows)[1][1]) << "a request was split across batches";
  }
  for (const auto& batch : model.batches()) EXPECT_LE(batch.size(), 4u);
}

TEST(MicroBatcherTest, LoneRequestWaitsAtMostMaxWait) {
  FakeModel model;
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/32, milliseconds(100)));
  const auto start = std::chrono::steady_clock::now();
  const auto rows = batcher.Submit({Crop(1)}, Within(milliseconds(30000)));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_TRUE(rows.ok()) << rows.status();
  // It waited for company for the whole window, and then ran alone rather
  // than waiting for a full batch (that would never come: a 30 s deadline).
  EXPECT_GE(elapsed, milliseconds(100));
  EXPECT_LT(elapsed, milliseconds(10000));
  EXPECT_EQ(model.batches().size(), 1u);
}

TEST(MicroBatcherTest, DeadlinePassingInTheQueueFailsOnlyThatRequest) {
  FakeModel model;
  model.Close();
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/8, milliseconds(0)));
  auto first = std::async(std::launch::async,
                          [&] { return batcher.Submit({Crop(1)}, Within(milliseconds(30000))); });
  model.AwaitEntered(1);
  // Queued behind a batch that does not finish: its deadline passes first.
  const auto late = batcher.Submit({Crop(2)}, Within(milliseconds(50)));
  EXPECT_EQ(late.status().code(), absl::StatusCode::kDeadlineExceeded);
  // A deadline already past never enters the queue's batches either.
  const auto past = batcher.Submit({Crop(3)}, Within(milliseconds(-1)));
  EXPECT_EQ(past.status().code(), absl::StatusCode::kDeadlineExceeded);
  model.Open();
  const auto rows = first.get();
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0][0], 1.0f);
  // Later requests still work, and the expired ones were never computed.
  ASSERT_TRUE(batcher.Submit({Crop(4)}, Within(milliseconds(30000))).ok());
  EXPECT_EQ(model.batches(), (std::vector<std::vector<float>>{{1}, {4}}));
}

TEST(MicroBatcherTest, CancelledCallerLeavesTheQueue) {
  FakeModel model;
  model.Close();
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/8, milliseconds(0)));
  auto first = std::async(std::launch::async,
                          [&] { return batcher.Submit({Crop(1)}, Within(milliseconds(30000))); });
  model.AwaitEntered(1);
  std::atomic<bool> cancelled{false};
  CallControl control = Within(milliseconds(30000));
  control.cancelled = [&cancelled] { return cancelled.load(); };
  auto waiting = std::async(std::launch::async, [&] { return batcher.Submit({Crop(2)}, control); });
  std::this_thread::sleep_for(milliseconds(50));
  cancelled = true;
  EXPECT_EQ(waiting.get().status().code(), absl::StatusCode::kCancelled);
  model.Open();
  ASSERT_TRUE(first.get().ok());
  EXPECT_EQ(model.batches(), (std::vector<std::vector<float>>{{1}}));
}

TEST(MicroBatcherTest, ForwardErrorReachesEveryCallerOfTheBatch) {
  FakeModel model;
  model.Fail(absl::InternalError("model exploded"));
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/4, milliseconds(5000)));
  std::vector<std::future<absl::StatusOr<std::vector<Row>>>> calls;
  for (int i = 0; i < 4; ++i) {
    calls.push_back(std::async(std::launch::async, [&batcher, i] {
      return batcher.Submit({Crop(static_cast<float>(i))}, Within(milliseconds(30000)));
    }));
  }
  for (auto& call : calls) {
    const auto rows = call.get();
    EXPECT_EQ(rows.status().code(), absl::StatusCode::kInternal);
    EXPECT_EQ(rows.status().message(), "model exploded");
  }
  EXPECT_EQ(model.batches().size(), 1u);
}

TEST(MicroBatcherTest, WrongRowCountOrExceptionFailsTheBatch) {
  FakeModel model;
  model.DropARow();
  MicroBatcher short_rows(model.AsForward(), Options(8, milliseconds(0)));
  const auto rows = short_rows.Submit({Crop(1), Crop(2)}, Within(milliseconds(30000)));
  EXPECT_EQ(rows.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(rows.status().message().find("1 rows for 2 faces"), std::string::npos) << rows.status();

  MicroBatcher throwing(
      [](const std::vector<cv::Mat>&) -> absl::StatusOr<std::vector<Row>> {
        throw std::runtime_error("out of memory");
      },
      Options(8, milliseconds(0)));
  const auto thrown = throwing.Submit({Crop(1)}, Within(milliseconds(30000)));
  EXPECT_EQ(thrown.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(thrown.status().message().find("out of memory"), std::string::npos);
}

TEST(MicroBatcherTest, FullQueueIsResourceExhausted) {
  FakeModel model;
  model.Close();
  MicroBatcher batcher(model.AsForward(), Options(8, milliseconds(0), /*max_queue=*/2));
  auto first = std::async(std::launch::async,
                          [&] { return batcher.Submit({Crop(1)}, Within(milliseconds(30000))); });
  model.AwaitEntered(1);  // Taken: no longer counts as queued.
  auto second = std::async(std::launch::async, [&] {
    return batcher.Submit({Crop(2), Crop(3)}, Within(milliseconds(30000)));
  });
  std::this_thread::sleep_for(milliseconds(50));  // Now 2 faces wait.
  const auto refused = batcher.Submit({Crop(4)}, Within(milliseconds(30000)));
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kResourceExhausted);
  model.Open();
  EXPECT_TRUE(first.get().ok());
  EXPECT_TRUE(second.get().ok());
  // A request larger than the whole queue is accepted when nothing waits.
  EXPECT_TRUE(batcher.Submit({Crop(5), Crop(6), Crop(7)}, Within(milliseconds(30000))).ok());
}

TEST(MicroBatcherTest, ShutdownFinishesTheBatchInFlightAndRefusesTheRest) {
  FakeModel model;
  model.Close();
  MicroBatcher batcher(model.AsForward(), Options(/*max_batch=*/1, milliseconds(0)));
  auto first = std::async(std::launch::async,
                          [&] { return batcher.Submit({Crop(1)}, Within(milliseconds(30000))); });
  model.AwaitEntered(1);
  auto queued = std::async(std::launch::async,
                           [&] { return batcher.Submit({Crop(2)}, Within(milliseconds(30000))); });
  std::this_thread::sleep_for(milliseconds(50));
  auto shutdown = std::async(std::launch::async, [&] { batcher.Shutdown(); });
  std::this_thread::sleep_for(milliseconds(50));
  model.Open();
  shutdown.get();
  const auto rows = first.get();
  ASSERT_TRUE(rows.ok()) << rows.status();
  EXPECT_EQ((*rows)[0][0], 1.0f);
  EXPECT_EQ(queued.get().status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(batcher.Submit({Crop(3)}, Within(milliseconds(30000))).status().code(),
            absl::StatusCode::kUnavailable);
  EXPECT_EQ(model.batches().size(), 1u);
}

}  // namespace
}  // namespace qf::server
