#include "server/jobs/job_store.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/util/status_macros.h"
#include "server/store/page_request.h"

namespace qf::server {
namespace {

constexpr char kSchema[] = R"sql(
CREATE TABLE IF NOT EXISTS jobs(
  seq INTEGER PRIMARY KEY AUTOINCREMENT,
  id TEXT UNIQUE NOT NULL,
  request_id TEXT UNIQUE,
  state INTEGER NOT NULL,
  proto BLOB NOT NULL);
CREATE INDEX IF NOT EXISTS jobs_by_state ON jobs(state, seq);
)sql";

absl::StatusOr<v1::Job> ParseJob(const std::string& bytes) {
  v1::Job job;
  if (!job.ParseFromString(bytes)) return absl::DataLossError("corrupt job row in jobs.db");
  return job;
}

}  // namespace

std::string JobStore::NewId() {
  static std::mutex mutex;
  static std::mt19937_64 engine{std::random_device{}()};
  std::lock_guard<std::mutex> lock(mutex);
  return absl::StrFormat("%012x", engine() & 0xffffffffffffULL);
}

absl::StatusOr<std::string> JobStore::IdOf(const std::string& name, const std::string& field) {
  if (name.rfind("jobs/", 0) != 0 || name.size() == 5) {
    return absl::InvalidArgumentError(
        absl::StrCat(field, " '", name, "' is not of the form jobs/{job}"));
  }
  return name.substr(5);
}

absl::StatusOr<std::unique_ptr<JobStore>> JobStore::Open(const std::string& path) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.status();
  if (absl::Status s = (*db)->Exec(kSchema); !s.ok()) return s;
  return std::unique_ptr<JobStore>(new JobStore(*std::move(db)));  // Private constructor.
}

absl::StatusOr<v1::Job> JobStore::Create(const v1::Job& job, bool* created) {
  auto id = IdOf(job.name(), "job.name");
  if (!id.ok()) return id.status();
  v1::Job result = job;
  *created = false;
  absl::Status status = db_->Transaction([&]() -> absl::Status {
    if (!job.request_id().empty()) {
      auto select = db_->Prepare("SELECT proto FROM jobs WHERE request_id=?1");
      if (!select.ok()) return select.status();
      select->Bind(1, job.request_id());
      auto row = select->Step();
      if (!row.ok()) return row.status();
      if (*row) {
        auto existing = ParseJob(select->ColumnBlob(0));
        if (!existing.ok()) return existing.status();
        result = *std::move(existing);
        return absl::OkStatus();
      }
    }
    auto insert =
        db_->Prepare("INSERT INTO jobs(id, request_id, state, proto) VALUES(?1, ?2, ?3, ?4)");
    if (!insert.ok()) return insert.status();
    insert->Bind(1, *id);
    if (job.request_id().empty()) {
      insert->BindNull(2);
    } else {
      insert->Bind(2, job.request_id());
    }
    insert->Bind(3, int64_t{job.state()}).BindBlob(4, job.SerializeAsString());
    if (absl::Status s = insert->Run(); !s.ok()) return s;
    *created = true;
    return absl::OkStatus();
  });
  if (!status.ok()) return status;
  return result;
}

absl::Status JobStore::Update(const v1::Job& job) {
  auto id = IdOf(job.name(), "job.name");
  if (!id.ok()) return id.status();
  auto lock = db_->Lock();
  auto stmt = db_->Prepare("UPDATE jobs SET state=?2, proto=?3 WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, *id).Bind(2, int64_t{job.state()}).BindBlob(3, job.SerializeAsString());
  return stmt->Run();
}

absl::StatusOr<v1::Job> JobStore::Get(const std::string& id) const {
  auto lock = db_->Lock();
  auto stmt = db_->Prepare("SELECT proto FROM jobs WHERE id=?1");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, id);
  auto row = stmt->Step();
  if (!row.ok()) return row.status();
  if (!*row) return absl::NotFoundError(absl::StrCat("job jobs/", id, " not found"));
  return ParseJob(stmt->ColumnBlob(0));
}

absl::StatusOr<JobPage> JobStore::List(v1::Job::State state, int page_size,
                                       const std::string& page_token) const {
  QF_ASSIGN_OR_RETURN(const int limit, PageLimit(page_size));
  QF_ASSIGN_OR_RETURN(const int64_t offset, PageOffset(page_token));
  auto lock = db_->Lock();
  auto stmt = db_->Prepare(
      "SELECT proto FROM jobs WHERE (?1 = 0 OR state = ?1) ORDER BY seq DESC LIMIT ?2 OFFSET ?3");
  if (!stmt.ok()) return stmt.status();
  stmt->Bind(1, int64_t{state}).Bind(2, int64_t{limit} + 1).Bind(3, offset);
  JobPage page;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    if (static_cast<int>(page.jobs.size()) == limit) {
      page.next_page_token = std::to_string(offset + limit);
      break;
    }
    auto job = ParseJob(stmt->ColumnBlob(0));
    if (!job.ok()) return job.status();
    page.jobs.push_back(*std::move(job));
  }
  return page;
}

absl::StatusOr<std::vector<v1::Job>> JobStore::InStates(
    const std::vector<v1::Job::State>& states) const {
  auto lock = db_->Lock();
  auto stmt = db_->Prepare("SELECT proto, state FROM jobs ORDER BY seq");
  if (!stmt.ok()) return stmt.status();
  std::vector<v1::Job> jobs;
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const auto state = static_cast<v1::Job::State>(stmt->ColumnInt(1));
    if (std::find(states.begin(), states.end(), state) == states.end()) continue;
    auto job = ParseJob(stmt->ColumnBlob(0));
    if (!job.ok()) return job.status();
    jobs.push_back(*std::move(job));
  }
  return jobs;
}

absl::StatusOr<std::vector<int64_t>> JobStore::CountByState() const {
  auto lock = db_->Lock();
  auto stmt = db_->Prepare("SELECT state, COUNT(*) FROM jobs GROUP BY state");
  if (!stmt.ok()) return stmt.status();
  std::vector<int64_t> counts(v1::Job::State_ARRAYSIZE, 0);
  while (true) {
    auto row = stmt->Step();
    if (!row.ok()) return row.status();
    if (!*row) break;
    const int64_t state = stmt->ColumnInt(0);
    if (state >= 0 && state < static_cast<int64_t>(counts.size()))
      counts[state] = stmt->ColumnInt(1);
  }
  return counts;
}

}  // namespace qf::server
