// Early-return helpers for absl::Status / absl::StatusOr results.
//
// Core code reports errors as status values; these macros keep the happy path
// readable without hiding control flow in exceptions.
#ifndef QUANTFACE_CORE_UTIL_STATUS_MACROS_H_
#define QUANTFACE_CORE_UTIL_STATUS_MACROS_H_

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define QF_CONCAT_INNER_(a, b) a##b
#define QF_CONCAT_(a, b) QF_CONCAT_INNER_(a, b)

// Returns the status from the enclosing function when `expr` is not OK.
#define QF_RETURN_IF_ERROR(expr)                   \
  do {                                             \
    const absl::Status qf_status_ = (expr);        \
    if (!qf_status_.ok()) return qf_status_;       \
  } while (false)

// `lhs` = value of the StatusOr `rexpr`, or returns its error status.
#define QF_ASSIGN_OR_RETURN(lhs, rexpr) \
  QF_ASSIGN_OR_RETURN_IMPL_(QF_CONCAT_(qf_statusor_, __LINE__), lhs, rexpr)

#define QF_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                              \
  if (!statusor.ok()) return statusor.status();         \
  lhs = std::move(statusor).value()

#endif  // QUANTFACE_CORE_UTIL_STATUS_MACROS_H_
