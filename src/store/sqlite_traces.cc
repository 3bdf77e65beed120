// The SQLite TraceRepository (trace_repository.h).
//
// Indexes (migration 4; sqlite_traces_test.cc checks the query plans):
// - traces_project_time (project_id, time_ms, status, model, user): listing by time, the time
//   range, retention (per project), and the filters checked on its entries without reading the
//   row: model, user, a status below 400 (and their counts).
// - traces_prompt (project_id, prompt_name, prompt_version, time_ms) WHERE prompt_name != '':
//   the prompt/version filters.
// - traces_errors (project_id, time_ms) WHERE status >= 400 OR error_class != '': status=error,
//   error_class and a status >= 400.
// - the primary key on id: Get, feedback's lookup, duplicate detection.
// SQLite uses a partial index only when the query's WHERE contains the index's condition (or
// something SQLite can prove implies it; a bound parameter proves nothing), so FilterSql adds
// kHasPrompt and kFailed literally where they follow from the filter.

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "core/thread.h"
#include "store/sqlite.h"
#include "store/sqlite_traces.h"

namespace promptops::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;

constexpr const char* kTraceCols =
    "id, project_id, time_ms, key_id, user, session, metadata, prompt_name, prompt_version, "
    "prompt_label, model, provider, upstream_model, input_tokens, output_tokens, "
    "usage_estimated, cost_usd, latency_us, ttft_us, status, error_class, retries, "
    "fallback_used, cache_hit, stream";

// Rows per INSERT statement of InsertBatch, and the columns (kTraceCols and the two bodies)
// each row binds: 432 parameters per statement.
constexpr std::size_t kRowsPerInsert = 16;
constexpr int kInsertCols = 27;

// "INSERT OR IGNORE INTO traces (...) VALUES (?, ...), ..." for n rows (n <= kRowsPerInsert),
// built once per n.
const std::string& InsertSql(std::size_t n) {
  static const auto kSql = [] {
    std::string row = "(?";
    for (int c = 1; c < kInsertCols; ++c) row += ", ?";
    row += ")";
    std::vector<std::string> sql(kRowsPerInsert + 1);
    for (std::size_t rows = 1; rows <= kRowsPerInsert; ++rows) {
      std::string& q = sql[rows];
      q = std::string("INSERT OR IGNORE INTO traces (") + kTraceCols +
          ", request_body, response_body) VALUES " + row;
      for (std::size_t r = 1; r < rows; ++r) q += ", " + row;
    }
    return sql;
  }();
  return kSql[n];
}

constexpr const char* kFeedbackCols =
    "id, project_id, trace_id, prompt_name, prompt_version, model, value, score, comment, user, "
    "created_at";

// SQL conditions and their bindings for a TraceFilter, in order.
struct Where {
  std::string sql;
  std::vector<std::string> texts;  // bound as text, in order of `kinds`
  std::vector<std::int64_t> ints;
  std::vector<bool> is_int;  // per placeholder: from `ints` (true) or `texts` (false)

  void Text(const char* cond, const std::string& v) {
    sql += cond;
    texts.push_back(v);
    is_int.push_back(false);
  }
  void Int(const char* cond, std::int64_t v) {
    sql += cond;
    ints.push_back(v);
    is_int.push_back(true);
  }
  // Binds the placeholders starting at index `first`.
  void BindTo(Statement& st, int first) const {
    std::size_t t = 0, n = 0;
    for (std::size_t i = 0; i < is_int.size(); ++i) {
      if (is_int[i]) {
        st.Bind(first + static_cast<int>(i), ints[n++]);
      } else {
        st.Bind(first + static_cast<int>(i), texts[t++]);
      }
    }
  }
};

// The WHERE clauses of the partial indexes traces_prompt and traces_errors (migration 4), as
// SQLite must find them in a query to use the index (compared as parsed expressions).
constexpr const char* kHasPrompt = " AND prompt_name != ''";
constexpr const char* kFailed = " AND (status >= 400 OR error_class != '')";

Where FilterSql(const TraceFilter& f) {
  Where w;
  if (f.from_ms) w.Int(" AND time_ms >= ?", *f.from_ms);
  if (f.to_ms) w.Int(" AND time_ms < ?", *f.to_ms);
  if (f.prompt) {
    w.Text(" AND prompt_name = ?", *f.prompt);
    if (!f.prompt->empty()) w.sql += kHasPrompt;  // implied by the filter
  }
  if (f.version) w.Int(" AND prompt_version = ?", *f.version);
  if (f.model) w.Text(" AND model = ?", *f.model);
  // A failed trace is one with status >= 400 or an error class: an error status or class implies
  // kFailed, so it is added once for any of these filters (a no-op for the result).
  bool failed = f.errors_only;
  if (f.status) {
    w.Int(" AND status = ?", *f.status);
    failed = failed || *f.status >= 400;
  }
  if (f.error_class) {
    w.Text(" AND error_class = ?", *f.error_class);
    failed = failed || !f.error_class->empty();
  }
  if (failed) w.sql += kFailed;
  if (f.user) w.Text(" AND user = ?", *f.user);
  return w;
}

class SqliteTraces : public TraceRepository {
 public:
  explicit SqliteTraces(Connection& c) : c_(c) {}

  // Rows go in with multi-row INSERTs of up to kRowsPerInsert rows, ordered by project and time
  // (stable: rows of one millisecond keep their arrival order, which List shows newest stored
  // first). That is the order of the time index, and nearly that of the trace ids, which start
  // with their time. Within one statement SQLite keeps its cursors open, and an entry that
  // belongs after the one it just inserted is placed without searching the B-tree from its root
  // again; one statement per row paid a full search per index and the statement's setup for
  // every row: 26.7k -> 18.4k user-space instructions per stored trace on the gateway bench.
  Result<std::size_t> InsertBatch(std::span<const TraceRow> rows) override {
    std::vector<const TraceRow*> order;
    order.reserve(rows.size());
    for (const auto& r : rows) order.push_back(&r);
    std::stable_sort(order.begin(), order.end(), [](const TraceRow* a, const TraceRow* b) {
      return a->project_id != b->project_id ? a->project_id < b->project_id
                                            : a->time_ms < b->time_ms;
    });
    // Each statement comes from the connection's cache (one per row count), is bound, run and
    // given back: going out of scope resets it and clears its bindings. Text is bound without a
    // copy: `rows` belongs to the caller and outlives this call, and each statement runs right
    // after binding, so no pointer into `rows` outlives the call.
    std::size_t inserted = 0;
    std::size_t i = 0;
    while (i < order.size()) {
      std::size_t n = std::min(kRowsPerInsert, order.size() - i);
      // The trace writer gives way to network threads between statements (binding 16 rows
      // takes about ten microseconds) and, through SQLite's progress handler, within them.
      CooperativeYield();
      PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(InsertSql(n)));
      for (std::size_t k = 0; k < n; ++k) {
        const TraceRow& r = *order[i + k];
        const int b = static_cast<int>(k) * kInsertCols;
        st.BindNoCopy(b + 1, r.id)
            .Bind(b + 2, r.project_id)
            .Bind(b + 3, r.time_ms)
            .BindNoCopy(b + 4, r.key_id)
            .BindNoCopy(b + 5, r.user)
            .BindNoCopy(b + 6, r.session)
            .BindNoCopy(b + 7, r.metadata_json)
            .BindNoCopy(b + 8, r.prompt_name)
            .Bind(b + 9, r.prompt_version)
            .BindNoCopy(b + 10, r.prompt_label)
            .BindNoCopy(b + 11, r.model)
            .BindNoCopy(b + 12, r.provider)
            .BindNoCopy(b + 13, r.upstream_model)
            .Bind(b + 14, r.input_tokens)
            .Bind(b + 15, r.output_tokens)
            .Bind(b + 16, static_cast<std::int64_t>(r.usage_estimated))
            .Bind(b + 17, r.cost_usd)
            .Bind(b + 18, r.latency_us)
            .Bind(b + 19, r.ttft_us)
            .Bind(b + 20, r.status)
            .BindNoCopy(b + 21, r.error_class)
            .Bind(b + 22, r.retries)
            .Bind(b + 23, static_cast<std::int64_t>(r.fallback_used))
            .Bind(b + 24, static_cast<std::int64_t>(r.cache_hit))
            .Bind(b + 25, static_cast<std::int64_t>(r.stream))
            .BindNoCopy(b + 26, r.request_body)
            .BindNoCopy(b + 27, r.response_body);
      }
      PO_RETURN_IF_ERROR(st.Run());
      inserted += static_cast<std::size_t>(c_.Changes());
      i += n;
    }
    return inserted;
  }

  Result<std::optional<TraceRow>> Get(std::int64_t project_id, std::string_view id) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare(std::string("SELECT ") + kTraceCols +
                                   ", request_body, response_body FROM traces WHERE id = ? AND "
                                   "project_id = ?"));
    st.Bind(1, id).Bind(2, project_id);
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return std::optional<TraceRow>();
    return std::optional<TraceRow>(ReadTrace(st, true));
  }

  Result<TracePage> List(std::int64_t project_id, const TraceFilter& filter, std::size_t offset,
                         std::size_t limit, bool with_bodies) override {
    Where w = FilterSql(filter);
    TracePage page;
    {
      PO_ASSIGN_OR_RETURN(auto st,
                          c_.Prepare("SELECT COUNT(*) FROM traces WHERE project_id = ?" + w.sql));
      st.Bind(1, project_id);
      w.BindTo(st, 2);
      PO_ASSIGN_OR_RETURN(bool row, st.Step());
      page.total = row ? static_cast<std::size_t>(st.Int(0)) : 0;
    }
    // Through traces_project_time, whose entries are ordered by (time, status, model, user,
    // rowid), SQLite orders the traces of one millisecond by rowid with a small sort per
    // millisecond ("TEMP B-TREE FOR RIGHT PART OF ORDER BY"), emitting as it goes: the page still
    // stops early.
    std::string sql = std::string("SELECT ") + kTraceCols;
    if (with_bodies) sql += ", request_body, response_body";
    sql += " FROM traces WHERE project_id = ?" + w.sql +
           " ORDER BY time_ms DESC, rowid DESC LIMIT ? OFFSET ?";
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(sql));
    st.Bind(1, project_id);
    w.BindTo(st, 2);
    int next = 2 + static_cast<int>(w.is_int.size());
    st.Bind(next, static_cast<std::int64_t>(limit))
        .Bind(next + 1, static_cast<std::int64_t>(offset));
    PO_ASSIGN_OR_RETURN(page.rows, sqlite::All(st, [with_bodies](const Statement& s) {
                          return ReadTrace(s, with_bodies);
                        }));
    return page;
  }

  Result<std::int64_t> DeleteOlderThan(std::int64_t cutoff_ms,
                                       std::optional<std::int64_t> project_id) override {
    PO_ASSIGN_OR_RETURN(auto feedback_deleted, DeleteFeedbackBefore(cutoff_ms, project_id, -1));
    (void)feedback_deleted;
    std::vector<std::int64_t> projects;
    if (project_id) {
      projects.push_back(*project_id);
    } else {
      PO_ASSIGN_OR_RETURN(projects, TraceProjectIds());
    }
    std::int64_t deleted = 0;
    for (auto p : projects) {
      PO_ASSIGN_OR_RETURN(auto n, DeleteTracesBefore(p, cutoff_ms, -1));
      deleted += n;
    }
    return deleted;
  }

  Result<std::vector<std::int64_t>> TraceProjectIds() override {
    // A skip scan by hand: each MIN is one seek in traces_project_time.
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kNextProjectSql)));
    std::vector<std::int64_t> out;
    std::int64_t after = std::numeric_limits<std::int64_t>::min();
    for (;;) {
      st.Bind(1, after);
      PO_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row || st.IsNull(0)) return out;
      after = st.Int(0);
      out.push_back(after);
      st.Rewind();
    }
  }

  Result<std::int64_t> DeleteTracesBefore(std::int64_t project_id, std::int64_t cutoff_ms,
                                          std::int64_t limit) override {
    // LIMIT -1 is no limit.
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kDeleteTracesSql)));
    st.Bind(1, project_id).Bind(2, cutoff_ms).Bind(3, limit);
    PO_RETURN_IF_ERROR(st.Run());
    return static_cast<std::int64_t>(c_.Changes());
  }

  Result<std::int64_t> DeleteFeedbackBefore(std::int64_t cutoff_ms,
                                            std::optional<std::int64_t> project_id,
                                            std::int64_t limit) override {
    PO_ASSIGN_OR_RETURN(auto st,
                        c_.Prepare(std::string(project_id ? sqlite_traces::kDeleteProjectFeedbackSql
                                                          : sqlite_traces::kDeleteFeedbackSql)));
    int i = 1;
    st.Bind(i++, cutoff_ms);
    if (project_id) st.Bind(i++, *project_id);
    st.Bind(i, limit);
    PO_RETURN_IF_ERROR(st.Run());
    return static_cast<std::int64_t>(c_.Changes());
  }

  Result<FeedbackRow> InsertFeedback(const FeedbackRow& f) override {
    PO_ASSIGN_OR_RETURN(
        auto st,
        c_.Prepare("INSERT INTO feedback (project_id, trace_id, prompt_name, prompt_version, "
                   "model, value, score, comment, user, created_at) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"));
    st.Bind(1, f.project_id)
        .Bind(2, f.trace_id)
        .Bind(3, f.prompt_name)
        .Bind(4, f.prompt_version)
        .Bind(5, f.model)
        .Bind(6, f.value)
        .Bind(7, f.score)
        .Bind(8, f.comment)
        .Bind(9, f.user)
        .Bind(10, f.created_at);
    PO_RETURN_IF_ERROR(st.Run());
    FeedbackRow out = f;
    out.id = c_.LastInsertId();
    return out;
  }

  Result<std::vector<FeedbackRow>> ListFeedback(std::int64_t project_id,
                                                std::string_view trace_id) override {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string("SELECT ") + kFeedbackCols +
                                            " FROM feedback WHERE trace_id = ? AND "
                                            "project_id = ? ORDER BY id"));
    st.Bind(1, trace_id).Bind(2, project_id);
    return sqlite::All(st, [](const Statement& s) {
      FeedbackRow f;
      f.id = s.Int(0);
      f.project_id = s.Int(1);
      f.trace_id = s.Text(2);
      f.prompt_name = s.Text(3);
      f.prompt_version = s.Int(4);
      f.model = s.Text(5);
      f.value = s.Text(6);
      f.score = s.OptInt(7);
      f.comment = s.Text(8);
      f.user = s.Text(9);
      f.created_at = s.Int(10);
      return f;
    });
  }

  Result<std::vector<FeedbackSummaryRow>> SummarizeFeedback(
      std::int64_t project_id, const FeedbackSummaryFilter& filter) override {
    std::string sql =
        "SELECT prompt_name, prompt_version, model, SUM(value = 'up'), SUM(value = 'down'), "
        "COUNT(score), COALESCE(SUM(score), 0), COUNT(*) FROM feedback WHERE project_id = ?";
    if (filter.prompt) sql += " AND prompt_name = ?";
    if (filter.version) sql += " AND prompt_version = ?";
    if (filter.model) sql += " AND model = ?";
    sql +=
        " GROUP BY prompt_name, prompt_version, model ORDER BY prompt_name, prompt_version, "
        "model";
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(sql));
    int i = 1;
    st.Bind(i++, project_id);
    if (filter.prompt) st.Bind(i++, *filter.prompt);
    if (filter.version) st.Bind(i++, *filter.version);
    if (filter.model) st.Bind(i++, *filter.model);
    return sqlite::All(st, [](const Statement& s) {
      return FeedbackSummaryRow{s.Text(0), s.Int(1), s.Text(2), s.Int(3),
                                s.Int(4),  s.Int(5), s.Int(6),  s.Int(7)};
    });
  }

 private:
  static TraceRow ReadTrace(const Statement& st, bool with_bodies) {
    TraceRow r;
    r.id = st.Text(0);
    r.project_id = st.Int(1);
    r.time_ms = st.Int(2);
    r.key_id = st.Text(3);
    r.user = st.Text(4);
    r.session = st.Text(5);
    r.metadata_json = st.Text(6);
    r.prompt_name = st.Text(7);
    r.prompt_version = st.Int(8);
    r.prompt_label = st.Text(9);
    r.model = st.Text(10);
    r.provider = st.Text(11);
    r.upstream_model = st.Text(12);
    r.input_tokens = st.Int(13);
    r.output_tokens = st.Int(14);
    r.usage_estimated = st.Int(15) != 0;
    r.cost_usd = st.Double(16);
    r.latency_us = st.Int(17);
    r.ttft_us = st.Int(18);
    r.status = st.Int(19);
    r.error_class = st.Text(20);
    r.retries = st.Int(21);
    r.fallback_used = st.Int(22) != 0;
    r.cache_hit = st.Int(23) != 0;
    r.stream = st.Int(24) != 0;
    if (with_bodies) {
      r.request_body = st.Text(25);
      r.response_body = st.Text(26);
    }
    return r;
  }

  Connection& c_;
};

}  // namespace

std::unique_ptr<TraceRepository> NewSqliteTraceRepository(sqlite::Connection& c) {
  return std::make_unique<SqliteTraces>(c);
}

}  // namespace promptops::store
