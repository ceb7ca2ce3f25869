// MicroBatcher: one model's forward pass shared by concurrent requests.
//
// Requests that need embeddings of aligned face crops from the same model
// Submit() their crops; one runner thread per batcher joins queued requests
// into one forward call of at most `max_batch` crops, waiting at most
// `max_wait` after the oldest queued request arrived for more to come, and
// hands each request the rows computed for its crops.
//
// Contract:
//  - Submit() blocks until its rows are ready and returns exactly one row per
//    crop, in order. Requests leave the queue first in, first out; a request
//    is never split across batches, and one with more than max_batch crops
//    runs as a batch of its own (the forward function chunks as it needs).
//  - A batch is run as soon as max_batch crops are queued, else when the
//    oldest queued request has waited max_wait (while the runner is busy with
//    a forward, requests queue up and go together in the next batch).
//  - Deadline / cancellation: a request whose deadline passes (or whose
//    `cancelled` turns true) while it is queued leaves the queue and gets
//    DEADLINE_EXCEEDED (CANCELLED); the runner drops such requests when it
//    forms a batch, so they never take room in one. A caller whose deadline
//    passes while its batch runs also returns DEADLINE_EXCEEDED at once; the
//    batch finishes for the others.
//  - Bounded queue: a request that would make more than max_queue crops wait
//    gets RESOURCE_EXHAUSTED at once (a single request larger than max_queue
//    is still accepted when nothing else waits, so no request is refused
//    forever).
//  - A forward error, a thrown exception or a result with the wrong number of
//    rows is returned to every request of that batch.
//  - Shutdown() (the destructor calls it): the batch in flight finishes,
//    requests still queued and every later Submit() get UNAVAILABLE, and the
//    runner thread is joined. Call it from one thread only.
//  - `on_batch`, when set, is called with the crop count of every batch run
//    (the batch-size histogram).
//  - Thread-safe otherwise.
//
// Written here because none of the libraries in use (LibTorch, gRPC) batches
// requests across threads in C++.
#ifndef QUANTFACE_SERVER_MICRO_BATCHER_H_
#define QUANTFACE_SERVER_MICRO_BATCHER_H_

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <opencv2/core.hpp>
#include <thread>
#include <vector>

#include "absl/status/statusor.h"

namespace qf::server {

struct MicroBatchOptions {
  int max_batch = 32;                     // Most crops per forward call.
  std::chrono::microseconds max_wait{0};  // Longest wait for a batch to fill.
  int max_queue = 1024;                   // Most crops waiting at once.
};

// What a caller's request allows: until when it may wait, and whether its
// client is still there (`cancelled` may be empty: never cancelled).
struct CallControl {
  std::chrono::steady_clock::time_point deadline = std::chrono::steady_clock::time_point::max();
  std::function<bool()> cancelled;
};

class MicroBatcher {
 public:
  using Row = std::vector<float>;
  using Forward = std::function<absl::StatusOr<std::vector<Row>>(const std::vector<cv::Mat>&)>;

  MicroBatcher(Forward forward, MicroBatchOptions options,
               std::function<void(int)> on_batch = nullptr);
  ~MicroBatcher();
  MicroBatcher(const MicroBatcher&) = delete;
  MicroBatcher& operator=(const MicroBatcher&) = delete;

  absl::StatusOr<std::vector<Row>> Submit(std::vector<cv::Mat> crops, const CallControl& control);

  void Shutdown();

  const MicroBatchOptions& options() const { return options_; }

 private:
  struct Request;
  using Clock = std::chrono::steady_clock;

  void Run();
  // Pops the next batch (dropping expired or cancelled requests). Needs mutex_.
  std::vector<std::shared_ptr<Request>> TakeBatch();
  void RunBatch(const std::vector<std::shared_ptr<Request>>& batch);
  // Removes `request` from the queue if it is still there. Needs mutex_.
  bool Unqueue(const Request& request);

  const Forward forward_;
  const MicroBatchOptions options_;
  const std::function<void(int)> on_batch_;

  std::mutex mutex_;
  std::condition_variable queued_;    // The runner waits for requests.
  std::condition_variable finished_;  // Callers wait for their rows.
  std::deque<std::shared_ptr<Request>> queue_;
  int queued_crops_ = 0;
  bool stopping_ = false;
  std::thread runner_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_MICRO_BATCHER_H_
