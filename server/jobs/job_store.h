// JobStore: the durable record of every quantization job, one row per job in
// SQLite (WAL, synchronous=FULL; see server/store/sqlite_db.h) holding the
// serialized v1::Job plus the columns that queries filter on.
//
// Contract:
//  - Create() inserts a new job in one transaction; when `job.request_id` is
//    set and a job with that request id exists, nothing is inserted and the
//    existing job is returned (idempotent submission, also across restarts).
//  - Update() replaces a job's row (state, progress, timestamps, ...).
//  - List() returns jobs newest first, optionally of one state, with an
//    offset page token.
//  - Thread-safe; one process writes (the server holds the data dir's lock).
// Job ids are "<12 hex digits>", names "jobs/<id>".
#ifndef QUANTFACE_SERVER_JOBS_JOB_STORE_H_
#define QUANTFACE_SERVER_JOBS_JOB_STORE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "quantface/v1/quantization.pb.h"
#include "server/store/sqlite_db.h"

namespace qf::server {

namespace v1 = ::quantface::v1;

struct JobPage {
  std::vector<v1::Job> jobs;
  std::string next_page_token;
};

class JobStore {
 public:
  static absl::StatusOr<std::unique_ptr<JobStore>> Open(const std::string& path);

  // Returns the stored job: `job` itself, or the earlier job with its
  // request_id (then `created` is false).
  absl::StatusOr<v1::Job> Create(const v1::Job& job, bool* created);
  absl::Status Update(const v1::Job& job);
  absl::StatusOr<v1::Job> Get(const std::string& id) const;
  absl::StatusOr<JobPage> List(v1::Job::State state, int page_size,
                               const std::string& page_token) const;
  // Every job in one of `states`, oldest first (recovery after a restart).
  absl::StatusOr<std::vector<v1::Job>> InStates(const std::vector<v1::Job::State>& states) const;
  // Number of jobs per state, indexed by v1::Job::State.
  absl::StatusOr<std::vector<int64_t>> CountByState() const;

  static std::string NewId();
  // "jobs/<id>" -> id; INVALID_ARGUMENT naming `field` otherwise.
  static absl::StatusOr<std::string> IdOf(const std::string& name, const std::string& field);

 private:
  explicit JobStore(std::unique_ptr<SqliteDb> db) : db_(std::move(db)) {}
  std::unique_ptr<SqliteDb> db_;
};

}  // namespace qf::server

#endif  // QUANTFACE_SERVER_JOBS_JOB_STORE_H_
