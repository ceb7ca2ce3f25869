#include "server/micro_batcher.h"

#include <algorithm>
#include <exception>

#include "absl/strings/str_cat.h"

namespace qf::server {
namespace {

// How often a waiting caller looks at its `cancelled` callback; cancellation
// has no notification of its own in the synchronous gRPC API.
constexpr std::chrono::milliseconds kCancelPoll(10);
// Upper bound on one wait, so a deadline of time_point::max() never reaches
// the condition variable's clock conversion.
constexpr std::chrono::seconds kLongestWait(1);

}  // namespace

struct MicroBatcher::Request {
  std::vector<cv::Mat> crops;
  CallControl control;
  Clock::time_point enqueued;
  bool taken = false;  // In a batch the runner is computing.
  bool done = false;   // `status` and `rows` are final.
  absl::Status status;
  std::vector<Row> rows;

  int size() const { return static_cast<int>(crops.size()); }
  bool Expired(Clock::time_point now) const { return now >= control.deadline; }
  bool Cancelled() const { return control.cancelled && control.cancelled(); }
};

MicroBatcher::MicroBatcher(Forward forward, MicroBatchOptions options,
                           std::function<void(int)> on_batch)
    : forward_(std::move(forward)), options_(options), on_batch_(std::move(on_batch)) {
  runner_ = std::thread([this] { Run(); });
}

MicroBatcher::~MicroBatcher() { Shutdown(); }

void MicroBatcher::Shutdown() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  queued_.notify_all();
  if (runner_.joinable()) runner_.join();
}

bool MicroBatcher::Unqueue(const Request& request) {
  auto it = std::find_if(queue_.begin(), queue_.end(),
                         [&](const std::shared_ptr<Request>& r) { return r.get() == &request; });
  if (it == queue_.end()) return false;
  queued_crops_ -= request.size();
  queue_.erase(it);
  return true;
}

absl::StatusOr<std::vector<MicroBatcher::Row>> MicroBatcher::Submit(std::vector<cv::Mat> crops,
                                                                    const CallControl& control) {
  if (crops.empty()) return std::vector<Row>();
  auto request = std::make_shared<Request>();
  request->crops = std::move(crops);
  request->control = control;
  std::unique_lock<std::mutex> lock(mutex_);
  if (stopping_) return absl::UnavailableError("the server is shutting down");
  if (queued_crops_ > 0 && queued_crops_ + request->size() > options_.max_queue) {
    return absl::ResourceExhaustedError(absl::StrCat("embedding queue is full (", queued_crops_,
                                                     " faces waiting, at most ", options_.max_queue,
                                                     "); retry later"));
  }
  request->enqueued = Clock::now();
  queue_.push_back(request);
  queued_crops_ += request->size();
  queued_.notify_one();
  while (!request->done) {
    const Clock::time_point now = Clock::now();
    const bool expired = request->Expired(now);
    if (expired || request->Cancelled()) {
      // Still queued: leave, so it takes no room in a batch. Already taken:
      // the runner writes into `request`, which the shared_ptr keeps alive.
      Unqueue(*request);
      if (expired) {
        return absl::DeadlineExceededError("deadline passed while waiting for the model");
      }
      return absl::CancelledError("cancelled while waiting for the model");
    }
    const auto poll =
        request->control.cancelled ? Clock::duration(kCancelPoll) : Clock::duration(kLongestWait);
    finished_.wait_until(lock, std::min(request->control.deadline, now + poll));
  }
  if (!request->status.ok()) return request->status;
  return std::move(request->rows);
}

std::vector<std::shared_ptr<MicroBatcher::Request>> MicroBatcher::TakeBatch() {
  std::vector<std::shared_ptr<Request>> batch;
  int crops = 0;
  bool dropped = false;
  const Clock::time_point now = Clock::now();
  while (!queue_.empty()) {
    const std::shared_ptr<Request> next = queue_.front();
    const bool expired = next->Expired(now);
    if (expired || next->Cancelled()) {
      next->done = true;
      next->status = expired ? absl::DeadlineExceededError("deadline passed in the queue")
                             : absl::CancelledError("cancelled in the queue");
      queued_crops_ -= next->size();
      queue_.pop_front();
      dropped = true;
      continue;
    }
    if (!batch.empty() && crops + next->size() > options_.max_batch) break;
    next->taken = true;
    crops += next->size();
    queued_crops_ -= next->size();
    queue_.pop_front();
    batch.push_back(next);
  }
  if (dropped) finished_.notify_all();
  return batch;
}

void MicroBatcher::RunBatch(const std::vector<std::shared_ptr<Request>>& batch) {
  std::vector<cv::Mat> crops;
  for (const auto& request : batch) {
    crops.insert(crops.end(), request->crops.begin(), request->crops.end());
  }
  if (on_batch_) on_batch_(static_cast<int>(crops.size()));
  absl::StatusOr<std::vector<Row>> rows;
  try {
    rows = forward_(crops);
  } catch (const std::exception& e) {
    // A thread of our own: nobody above would catch it.
    rows = absl::InternalError(absl::StrCat("model forward failed: ", e.what()));
  }
  if (rows.ok() && rows->size() != crops.size()) {
    rows = absl::InternalError(absl::StrCat("model forward returned ", rows->size(), " rows for ",
                                            crops.size(), " faces"));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  size_t offset = 0;
  for (const auto& request : batch) {
    if (rows.ok()) {
      request->rows.assign(std::make_move_iterator(rows->begin() + offset),
                           std::make_move_iterator(rows->begin() + offset + request->size()));
      offset += request->size();
    } else {
      request->status = rows.status();
    }
    request->done = true;
  }
}

void MicroBatcher::Run() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (true) {
    queued_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
    if (stopping_) break;
    const Clock::time_point close = queue_.front()->enqueued + options_.max_wait;
    queued_.wait_until(lock, close, [this] {
      return stopping_ || queue_.empty() || queued_crops_ >= options_.max_batch;
    });
    if (stopping_) break;
    const std::vector<std::shared_ptr<Request>> batch = TakeBatch();
    if (batch.empty()) continue;
    lock.unlock();
    RunBatch(batch);
    finished_.notify_all();
    lock.lock();
  }
  for (const auto& request : queue_) {
    request->done = true;
    request->status = absl::UnavailableError("the server is shutting down");
  }
  queue_.clear();
  queued_crops_ = 0;
  finished_.notify_all();
}

}  // namespace qf::server
