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

// The smallest project id with traces above ?1 (NULL if none): one seek in trace_blocks_time.
inline constexpr std::string_view kNextProjectSql =
    "SELECT MIN(project_id) FROM trace_blocks WHERE project_id > ?";
// A new block (?1 NULL) or a rewritten one in place of the block with id ?1.
inline constexpr std::string_view kInsertBlockSql =
    "INSERT OR REPLACE INTO trace_blocks (id, project_id, min_time_ms, max_time_ms, id_min_ms, "
    "id_max_ms, "
    "row_count, failed_count, raw_bytes, prompts, models, id_filter, user_filter, data) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
// The blocks of project ?1 whose id range holds ?2 (?3 = ?2 + the widest id range, ?4 = ?2),
// with their id filters, through trace_blocks_ids. ?2 = ?3 = ?4 = -1: the blocks of irregular
// ids.
inline constexpr std::string_view kBlocksForIdSql =
    "SELECT id, id_filter FROM trace_blocks WHERE project_id = ? AND id_max_ms >= ? AND "
    "id_max_ms <= ? AND id_min_ms <= ?";
// The blocks of project ?1 with traces in [?2, ?3), newest first, through trace_blocks_time; their
// user filters only when ?4 is true (a listing without a user filter need not read them).
inline constexpr std::string_view kBlocksInRangeSql =
    "SELECT id, min_time_ms, max_time_ms, row_count, failed_count, prompts, models, "
    "CASE WHEN ?4 THEN user_filter END FROM trace_blocks WHERE project_id = ?1 AND "
    "max_time_ms >= ?2 AND min_time_ms < ?3 ORDER BY max_time_ms DESC, id DESC";
// The newest block of project ?1 (the highest id), through trace_blocks_project.
inline constexpr std::string_view kTailBlockSql =
    "SELECT id, row_count, id_min_ms, id_max_ms, raw_bytes FROM trace_blocks "
    "WHERE project_id = ? ORDER BY id DESC LIMIT 1";
// At most ?3 blocks of project ?1 whose traces all started before ?2, oldest first.
inline constexpr std::string_view kOldBlocksSql =
    "SELECT id, row_count FROM trace_blocks WHERE project_id = ? AND max_time_ms < ? "
    "ORDER BY max_time_ms, id LIMIT ?";
// The blocks of project ?1 with traces before and from ?2 (= ?3).
inline constexpr std::string_view kStraddlingBlocksSql =
    "SELECT id FROM trace_blocks WHERE project_id = ? AND max_time_ms >= ? AND min_time_ms < ? "
    "ORDER BY id";
// Deletes at most ?2 (or ?3) feedback events created before ?1 (in project ?2), via
// feedback_time.
inline constexpr std::string_view kDeleteFeedbackSql =
    "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < ? LIMIT ?)";
inline constexpr std::string_view kDeleteProjectFeedbackSql =
    "DELETE FROM feedback WHERE id IN (SELECT id FROM feedback WHERE created_at < ? AND "
    "project_id = ? LIMIT ?)";

// Migration 5: moves the rows of the old traces table (if any) into blocks, in the order they
// were stored, and drops the table. Runs inside the migration's transaction.
Status ConvertLegacyTraces(sqlite::Connection& c);

}  // namespace sqlite_traces
}  // namespace promptops::store
