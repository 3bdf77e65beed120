// The SQLite TraceRepository, and the SQL of its statements that are not built per filter
// (named here so that sqlite_traces_test.cc can check their query plans).
#pragma once

#include <memory>
#include <string_view>

#include "store/sqlite.h"
#include "store/trace_repository.h"

namespace promptops::store {

// A repository over `c` (also declared in sqlite_store.cc, which uses it).
std::unique_ptr<TraceRepository> NewSqliteTraceRepository(sqlite::Connection& c);

namespace sqlite_traces {

// The smallest project id with traces above ?1 (NULL if none): one seek in traces_project_time.
inline constexpr std::string_view kNextProjectSql =
    "SELECT MIN(project_id) FROM traces WHERE project_id > ?";
// Deletes at most ?3 (-1: all) traces of project ?1 older than ?2, found through
// traces_project_time. (DELETE ... LIMIT needs a compile-time option; a rowid subquery does not.)
inline constexpr std::string_view kDeleteTracesSql =
    "DELETE FROM traces WHERE rowid IN (SELECT rowid FROM traces WHERE project_id = ? AND "
    "time_ms < ? LIMIT ?)";
// Deletes at most ?2 (or ?3) feedback events created before ?1 (in project ?2), via
// feedback_time.
inline constexpr std::string_view kDeleteFeedbackSql =
    "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < ? LIMIT ?)";
inline constexpr std::string_view kDeleteProjectFeedbackSql =
    "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < ? AND "
    "project_id = ? LIMIT ?)";

}  // namespace sqlite_traces
}  // namespace promptops::store
