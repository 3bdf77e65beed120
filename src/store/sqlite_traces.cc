// The SQLite TraceRepository (trace_repository.h).
//
// Traces live in compressed blocks (store/trace_blocks.h), one per row of trace_blocks
// (migration 5). A batch from the trace writer becomes one block per project (two when some of
// its ids do not carry their trace's start time, below), its rows in time order. Each block row
// carries what queries select on, so that they decode only the blocks that may hold what they
// look for:
// - min_time_ms / max_time_ms, max_time_ms indexed as trace_blocks_time (project_id,
//   max_time_ms): listing newest first (the index's order, rowid last, is the merge's block
//   order), the time range, retention;
// - id_min_ms / id_max_ms, the range of the times in the block's ids (trace_blocks::IdTimeMs),
//   indexed as trace_blocks_ids (project_id, id_max_ms, id_min_ms), and id_filter, a Bloom
//   filter of its ids: Get. A block holding an id of time t has id_min_ms <= t <= id_max_ms, and
//   id_max_ms <= t + the widest id range any block has (trace_block_stats.max_id_span_ms): an
//   index range, then the filters of the blocks in it. Ids whose time is not within an hour of
//   their trace's start (ids from before time-ordered ids, tests with a fake clock) go into
//   blocks of their own with id_min_ms = id_max_ms = -1, which Get also looks through;
// - raw_bytes (an upper bound of the encoded rows' size: small batches join a block only while it
//   stays small),
// - row_count (counting a time range, or a block whose only prompt or model is the filter's,
//   without decoding), failed_count (rows with status >= 400 or
//   an error class: the error filters skip blocks without), and the distinct prompt names and
//   models of the block (the prompt and model filters skip blocks without the value; NULL when
//   there were too many to list), and user_filter, a Bloom filter of its users (the user filter
//   skips the blocks it rules out).
// sqlite_traces_test.cc checks the query plans.

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/log.h"
#include "core/thread.h"
#include "store/sqlite.h"
#include "store/sqlite_traces.h"
#include "store/trace_blocks.h"

namespace promptops::store {
namespace {

using sqlite::Connection;
using sqlite::Statement;

constexpr const char* kFeedbackCols =
    "id, project_id, trace_id, prompt_name, prompt_version, model, value, score, comment, user, "
    "created_at";

// Distinct values kept in a block's prompts/models column; beyond this the column is NULL.
constexpr std::size_t kMaxListed = 16;

// An id is regular when the time in it is within this of its trace's start (NewTraceId takes both
// from the real clock at the start of the request).
constexpr std::int64_t kRegularSkewMs = 3600 * 1000;

// A batch of fewer than kMergeBatch traces (light traffic) joins each project's newest block
// while that stays under kMergeRows traces and kMergeSpanMs of ids (MergeIntoTail). Larger
// batches make blocks of their own: rewriting a growing block for every batch would cost a
// busy writer more than the small blocks it saves (a project with a few traces per batch
// beside a busy one made the trace store bench's writer ~2x dearer).
constexpr std::size_t kMergeBatch = 64;
constexpr std::int64_t kMergeRows = 256;
constexpr std::int64_t kMergeSpanMs = 60 * 1000;

// Whether an id whose time is `id_time` (trace_blocks::IdTimeMs) is regular for a trace started
// at time_ms.
bool RegularTime(std::int64_t id_time, std::int64_t time_ms) {
  return id_time >= 0 && id_time >= time_ms - kRegularSkewMs && id_time <= time_ms + kRegularSkewMs;
}

bool RegularId(const TraceRow& r) { return RegularTime(trace_blocks::IdTimeMs(r.id), r.time_ms); }

// A set of strings as one column: "\n" + each value + "\n" ("\n\n" holds the empty string), or
// nullopt when there are more than kMaxListed values or one contains a newline.
class ValueSet {
 public:
  void Add(const std::string& v) {
    if (overflow_) return;
    if (std::find(values_.begin(), values_.end(), v) != values_.end()) return;
    if (values_.size() == kMaxListed || v.find('\n') != std::string::npos) {
      overflow_ = true;
      return;
    }
    values_.push_back(v);
  }
  std::optional<std::string> Column() const {
    if (overflow_) return std::nullopt;
    std::string out = "\n";
    for (const auto& v : values_) {
      out += v;
      out += '\n';
    }
    return out;
  }

 private:
  std::vector<std::string> values_;
  bool overflow_ = false;
};

bool SetMayHold(const std::optional<std::string>& set, const std::string& v) {
  if (!set) return true;
  std::string needle = "\n" + v + "\n";
  return set->find(needle) != std::string::npos;
}

// For TraceRow and trace_blocks::RowView alike.
template <typename Row>
bool Failed(const Row& r) {
  return r.status >= 400 || !r.error_class.empty();
}

template <typename Row>
bool Matches(const Row& r, const TraceFilter& f) {
  if (f.from_ms && r.time_ms < *f.from_ms) return false;
  if (f.to_ms && r.time_ms >= *f.to_ms) return false;
  if (f.prompt && r.prompt_name != *f.prompt) return false;
  if (f.version && r.prompt_version != *f.version) return false;
  if (f.model && r.model != *f.model) return false;
  if (f.status && r.status != *f.status) return false;
  if (f.errors_only && !Failed(r)) return false;
  if (f.error_class && r.error_class != *f.error_class) return false;
  if (f.user && r.user != *f.user) return false;
  return true;
}

// A block as its row describes it (everything but the data).
struct BlockInfo {
  std::int64_t id = 0;
  std::int64_t min_time_ms = 0;
  std::int64_t max_time_ms = 0;
  std::int64_t rows = 0;
  std::int64_t failed = 0;
  std::optional<std::string> prompts;
  std::optional<std::string> models;
  std::string users;  // Bloom filter of the block's users (empty unless the filter has a user)
};

// Whether a block may hold a trace that matches `f` (by its summary columns).
bool MayMatch(const BlockInfo& b, const TraceFilter& f) {
  if (f.prompt && !SetMayHold(b.prompts, *f.prompt)) return false;
  if (f.model && !SetMayHold(b.models, *f.model)) return false;
  if (f.user && !trace_blocks::BloomMayHold(b.users, *f.user)) return false;
  bool failed =
      f.errors_only || (f.status && *f.status >= 400) || (f.error_class && !f.error_class->empty());
  if (failed && b.failed == 0) return false;
  return true;
}

// Whether every trace of the block is inside the filter's time range.
bool InsideTimeRange(const BlockInfo& b, const TraceFilter& f) {
  return (!f.from_ms || b.min_time_ms >= *f.from_ms) && (!f.to_ms || b.max_time_ms < *f.to_ms);
}

// Whether the block's list of distinct values (ValueSet::Column) is exactly {v}. Listed values
// never contain '\n'; a `v` that does could otherwise equal two listed values joined.
bool SetIsOnly(const std::optional<std::string>& set, const std::string& v) {
  return set && v.find('\n') == std::string::npos && set->size() == v.size() + 2 &&
         set->compare(1, v.size(), v) == 0;
}

// Whether every trace of the block matches `f`, by its summary columns alone (Count then adds its
// row count without decoding it): inside the time range, one prompt or model that is the
// filter's, every trace failed for the error filter. Version, status, error class and user are
// not summarized exactly: a filter on them always decodes.
bool AllMatch(const BlockInfo& b, const TraceFilter& f) {
  if (!InsideTimeRange(b, f)) return false;
  if (f.version || f.status || f.error_class || f.user) return false;
  if (f.prompt && !SetIsOnly(b.prompts, *f.prompt)) return false;
  if (f.model && !SetIsOnly(b.models, *f.model)) return false;
  if (f.errors_only && b.failed != b.rows) return false;
  return true;
}

// A decoded trace waiting in List's merge, with its position in storage order.
struct Pending {
  std::int64_t block;
  std::size_t index;
  TraceRow row;
};

// Heap order: the top is the newest (time, then block, then position in the block).
bool OlderThan(const Pending& a, const Pending& b) {
  if (a.row.time_ms != b.row.time_ms) return a.row.time_ms < b.row.time_ms;
  if (a.block != b.block) return a.block < b.block;
  return a.index < b.index;
}

class SqliteTraces : public TraceRepository {
 public:
  explicit SqliteTraces(Connection& c) : c_(c) {}

  Result<std::size_t> InsertBatch(std::span<const TraceRow> rows) override {
    // Rows ordered by project, regular ids first, then time (stable): each run of one project
    // and kind of id is a block.
    struct Item {
      const TraceRow* row;
      bool regular;
    };
    std::vector<Item> items;
    items.reserve(rows.size());
    for (const auto& r : rows) items.push_back({&r, RegularId(r)});
    std::stable_sort(items.begin(), items.end(), [](const Item& a, const Item& b) {
      if (a.row->project_id != b.row->project_id) return a.row->project_id < b.row->project_id;
      if (a.regular != b.regular) return a.regular;
      return a.row->time_ms < b.row->time_ms;
    });
    std::vector<const TraceRow*> block;
    block.reserve(std::min(items.size(), trace_blocks::kMaxRows));
    for (std::size_t i = 0; i < items.size();) {
      block.clear();
      std::size_t j = i;
      std::size_t bytes = 0;
      while (j < items.size() && block.size() < trace_blocks::kMaxRows &&
             items[j].row->project_id == items[i].row->project_id &&
             items[j].regular == items[i].regular) {
        std::size_t size = trace_blocks::EncodedSizeBound(*items[j].row);
        if (!block.empty() && bytes + size > trace_blocks::kMaxRawBytes) break;
        bytes += size;
        block.push_back(items[j].row);
        ++j;
      }
      bool whole_group = j == items.size() ||
                         items[j].row->project_id != items[i].row->project_id ||
                         items[j].regular != items[i].regular;
      bool merged = false;
      if (items[i].regular && whole_group && rows.size() < kMergeBatch) {
        PO_ASSIGN_OR_RETURN(merged, MergeIntoTail(items[i].row->project_id, block));
      }
      if (!merged) PO_RETURN_IF_ERROR(WriteBlock(block));
      i = j;
    }
    return rows.size();
  }

  Result<std::optional<TraceRow>> Get(std::int64_t project_id, std::string_view id) override {
    // Candidate blocks: those whose id range holds the id's time, and those of irregular ids.
    std::vector<std::int64_t> candidates;
    auto collect = [&](std::int64_t t, std::int64_t span) -> Status {
      PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kBlocksForIdSql)));
      st.Bind(1, project_id).Bind(2, t).Bind(3, t + span).Bind(4, t);
      for (;;) {
        PO_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) return OkStatus();
        if (trace_blocks::BloomMayHold(st.Blob(1), id)) candidates.push_back(st.Int(0));
      }
    };
    std::int64_t t = trace_blocks::IdTimeMs(id);
    if (t >= 0) {
      PO_ASSIGN_OR_RETURN(std::int64_t span, MaxIdSpan());
      PO_RETURN_IF_ERROR(collect(t, span));
    }
    PO_RETURN_IF_ERROR(collect(-1, 0));
    std::sort(candidates.begin(), candidates.end());  // the first stored first
    trace_blocks::DecodedBlock decoded;
    for (std::int64_t block : candidates) {
      PO_RETURN_IF_ERROR(DecodeBlockInto(block, decoded));
      for (const auto& r : decoded.rows) {
        if (r.id == id) return std::optional<TraceRow>(r.ToRow(true));
      }
    }
    return std::optional<TraceRow>();
  }

  Result<TracePage> List(std::int64_t project_id, const TraceFilter& filter, std::size_t offset,
                         std::size_t limit, bool with_bodies) override {
    TracePage page;
    PO_ASSIGN_OR_RETURN(page.total, Count(project_id, filter));
    if (limit == 0 || offset >= page.total) return page;
    page.rows.reserve(std::min(limit, page.total - offset));
    std::size_t skipped = 0;
    PO_RETURN_IF_ERROR(ForEach(project_id, filter, with_bodies, [&](TraceRow&& r) {
      if (skipped < offset) {
        ++skipped;
        return true;
      }
      page.rows.push_back(std::move(r));
      return page.rows.size() < limit;
    }));
    return page;
  }

  Result<std::size_t> Count(std::int64_t project_id, const TraceFilter& filter) override {
    PO_ASSIGN_OR_RETURN(auto st, SelectBlocks(project_id, filter));
    std::size_t total = 0;
    trace_blocks::DecodedBlock decoded;
    for (;;) {
      PO_ASSIGN_OR_RETURN(auto b, NextBlock(st, filter));
      if (!b) return total;
      if (AllMatch(*b, filter)) {
        total += static_cast<std::size_t>(b->rows);
        continue;
      }
      PO_RETURN_IF_ERROR(DecodeBlockInto(b->id, decoded));
      for (const auto& r : decoded.rows) total += Matches(r, filter) ? 1 : 0;
    }
  }

  // A merge of the candidate blocks, newest first. Blocks are visited by descending max_time_ms
  // (then id); once a block is decoded, every pending trace newer than the next block's
  // max_time_ms is final (no block still to come holds a trace that new) and is emitted in
  // order. Pending traces are few: those that started before the next block's newest trace, in
  // the blocks decoded so far (a block's traces span the durations of the requests in its batch).
  // Blocks are read from the statement as the merge goes (never all of them into memory).
  Status ForEach(std::int64_t project_id, const TraceFilter& filter, bool with_bodies,
                 const std::function<bool(TraceRow&&)>& visit) override {
    PO_ASSIGN_OR_RETURN(auto st, SelectBlocks(project_id, filter));
    PO_ASSIGN_OR_RETURN(auto block, NextBlock(st, filter));
    std::vector<Pending> heap;
    trace_blocks::DecodedBlock decoded;
    while (block) {
      PO_RETURN_IF_ERROR(DecodeBlockInto(block->id, decoded));
      for (std::size_t k = 0; k < decoded.rows.size(); ++k) {
        if (!Matches(decoded.rows[k], filter)) continue;
        heap.push_back({block->id, k, decoded.rows[k].ToRow(with_bodies)});
        std::push_heap(heap.begin(), heap.end(), OlderThan);
      }
      PO_ASSIGN_OR_RETURN(auto next, NextBlock(st, filter));
      std::int64_t frontier = next ? next->max_time_ms : std::numeric_limits<std::int64_t>::min();
      while (!heap.empty() && heap.front().row.time_ms > frontier) {
        std::pop_heap(heap.begin(), heap.end(), OlderThan);
        TraceRow r = std::move(heap.back().row);
        heap.pop_back();
        if (!visit(std::move(r))) return OkStatus();
      }
      block = std::move(next);
    }
    return OkStatus();
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
    // A skip scan by hand: each MIN is one seek in trace_blocks_time.
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

  // Whole blocks whose traces all started before the cutoff go first, oldest first; a block
  // with older and newer traces (or more old ones than the limit leaves room for) is decoded and
  // written again without the old ones it may delete.
  Result<std::int64_t> DeleteTracesBefore(std::int64_t project_id, std::int64_t cutoff_ms,
                                          std::int64_t limit) override {
    std::int64_t deleted = 0;
    auto room = [&] {
      return limit < 0 ? std::numeric_limits<std::int64_t>::max() : limit - deleted;
    };
    // Whole old blocks, a bounded number at a time (each holds at least one trace, so `room`
    // blocks are always enough).
    constexpr std::int64_t kBlocksPerQuery = 4096;
    for (;;) {
      if (room() <= 0) return deleted;
      std::int64_t want = std::min(room(), kBlocksPerQuery);
      std::vector<std::pair<std::int64_t, std::int64_t>> old;  // (block, rows)
      {
        PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kOldBlocksSql)));
        st.Bind(1, project_id).Bind(2, cutoff_ms).Bind(3, want);
        PO_ASSIGN_OR_RETURN(old, sqlite::All(st, [](const Statement& s) {
                              return std::make_pair(s.Int(0), s.Int(1));
                            }));
      }
      for (const auto& [block, rows] : old) {
        if (rows > room()) {  // the last block the limit reaches: only part of it goes
          PO_ASSIGN_OR_RETURN(auto n, DeleteFromBlock(block, cutoff_ms, room()));
          return deleted + n;
        }
        PO_RETURN_IF_ERROR(DeleteBlock(block));
        deleted += rows;
      }
      if (static_cast<std::int64_t>(old.size()) < want) break;
    }
    // Blocks with traces on both sides of the cutoff (a batch's traces span its requests'
    // durations, so these are few).
    std::vector<std::int64_t> straddling;
    {
      PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kStraddlingBlocksSql)));
      st.Bind(1, project_id).Bind(2, cutoff_ms).Bind(3, cutoff_ms);
      PO_ASSIGN_OR_RETURN(straddling, sqlite::All(st, [](const Statement& s) { return s.Int(0); }));
    }
    for (std::int64_t block : straddling) {
      if (room() <= 0) break;
      PO_ASSIGN_OR_RETURN(auto n, DeleteFromBlock(block, cutoff_ms, room()));
      deleted += n;
    }
    return deleted;
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
  // Stores `rows` (one project) as one block; with `id`, under that block id (a rewrite keeps
  // its place in storage order).
  Status WriteBlock(std::span<const TraceRow* const> rows, std::optional<std::int64_t> id = {}) {
    std::int64_t min_time = std::numeric_limits<std::int64_t>::max();
    std::int64_t max_time = std::numeric_limits<std::int64_t>::min();
    std::int64_t id_min = std::numeric_limits<std::int64_t>::max();
    std::int64_t id_max = std::numeric_limits<std::int64_t>::min();
    bool regular = true;
    std::int64_t failed = 0;
    std::size_t raw_bytes = 0;
    ValueSet prompts, models;
    for (const TraceRow* r : rows) {
      raw_bytes += trace_blocks::EncodedSizeBound(*r);
      min_time = std::min(min_time, r->time_ms);
      max_time = std::max(max_time, r->time_ms);
      std::int64_t t = trace_blocks::IdTimeMs(r->id);
      id_min = std::min(id_min, t);
      id_max = std::max(id_max, t);
      regular = regular && RegularTime(t, r->time_ms);
      failed += Failed(*r) ? 1 : 0;
      prompts.Add(r->prompt_name);
      models.Add(r->model);
    }
    if (!regular) id_min = id_max = -1;
    if (regular) PO_RETURN_IF_ERROR(WidenMaxIdSpan(id_max - id_min));
    std::vector<std::string_view> ids, users;
    ids.reserve(rows.size());
    users.reserve(rows.size());
    for (const TraceRow* r : rows) {
      ids.push_back(r->id);
      users.push_back(r->user);
    }
    std::sort(users.begin(), users.end());
    users.erase(std::unique(users.begin(), users.end()), users.end());
    std::string filter = trace_blocks::BloomFilter(ids);
    std::string user_filter = trace_blocks::BloomFilter(users);
    std::string data = trace_blocks::Encode(rows);
    CooperativeYield();
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kInsertBlockSql)));
    if (id) {
      st.Bind(1, *id);
    } else {
      st.BindNull(1);
    }
    auto prompts_col = prompts.Column();
    auto models_col = models.Column();
    st.Bind(2, rows.front()->project_id)
        .Bind(3, min_time)
        .Bind(4, max_time)
        .Bind(5, id_min)
        .Bind(6, id_max)
        .Bind(7, static_cast<std::int64_t>(rows.size()))
        .Bind(8, failed)
        .Bind(9, static_cast<std::int64_t>(raw_bytes));
    if (prompts_col) {
      st.BindNoCopy(10, *prompts_col);
    } else {
      st.BindNull(10);
    }
    if (models_col) {
      st.BindNoCopy(11, *models_col);
    } else {
      st.BindNull(11);
    }
    st.BindBlobNoCopy(12, filter).BindBlobNoCopy(13, user_filter).BindBlobNoCopy(14, data);
    return st.Run();
  }

  // The widest id range of any regular block (0 if none).
  Result<std::int64_t> MaxIdSpan() {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("SELECT value FROM trace_block_stats WHERE name = "
                                            "'max_id_span_ms'"));
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    return row ? st.Int(0) : 0;
  }
  Status WidenMaxIdSpan(std::int64_t span) {
    if (span <= known_span_) return OkStatus();  // within this transaction
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("UPDATE trace_block_stats SET value = ?1 WHERE name = "
                                            "'max_id_span_ms' AND value < ?1"));
    st.Bind(1, span);
    PO_RETURN_IF_ERROR(st.Run());
    known_span_ = span;
    return OkStatus();
  }

  // The statement listing the project's blocks in the filter's time range, by descending
  // max_time_ms and then id; NextBlock steps it.
  Result<Statement> SelectBlocks(std::int64_t project_id, const TraceFilter& filter) {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kBlocksInRangeSql)));
    st.Bind(1, project_id)
        .Bind(2, filter.from_ms.value_or(std::numeric_limits<std::int64_t>::min()))
        .Bind(3, filter.to_ms.value_or(std::numeric_limits<std::int64_t>::max()))
        .Bind(4, std::int64_t{filter.user ? 1 : 0});
    return st;
  }

  // The next block from SelectBlocks that may hold traces matching `filter` (by its summary
  // columns), or nullopt at the end.
  static Result<std::optional<BlockInfo>> NextBlock(Statement& st, const TraceFilter& filter) {
    for (;;) {
      PO_ASSIGN_OR_RETURN(bool row, st.Step());
      if (!row) return std::optional<BlockInfo>();
      BlockInfo b;
      b.id = st.Int(0);
      b.min_time_ms = st.Int(1);
      b.max_time_ms = st.Int(2);
      b.rows = st.Int(3);
      b.failed = st.Int(4);
      if (!st.IsNull(5)) b.prompts = st.Text(5);
      if (!st.IsNull(6)) b.models = st.Text(6);
      b.users = st.Blob(7);
      if (MayMatch(b, filter)) return std::optional<BlockInfo>(std::move(b));
    }
  }

  // Small batches (light traffic: the writer stores what came in 200 ms) would make small
  // blocks, which compress poorly and make listings step through many. So the traces of a small
  // batch (under kMergeBatch) join the project's newest block when that block is regular, stays
  // under kMergeRows and its id range under kMergeSpanMs: it is decoded and written again, under
  // its id, with the new traces after its own (the newest block of the project, so storage order
  // holds). Returns whether it did.
  Result<bool> MergeIntoTail(std::int64_t project_id, std::span<const TraceRow* const> rows) {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare(std::string(sqlite_traces::kTailBlockSql)));
    st.Bind(1, project_id);
    PO_ASSIGN_OR_RETURN(bool found, st.Step());
    if (!found) return false;
    std::int64_t tail = st.Int(0), tail_rows = st.Int(1), id_min = st.Int(2), id_max = st.Int(3);
    auto bytes = static_cast<std::size_t>(st.Int(4));
    if (id_min < 0 || tail_rows + static_cast<std::int64_t>(rows.size()) > kMergeRows) return false;
    for (const TraceRow* r : rows) bytes += trace_blocks::EncodedSizeBound(*r);
    if (bytes > trace_blocks::kMaxRawBytes / 2) return false;  // large bodies: not rewritten
    for (const TraceRow* r : rows) {
      std::int64_t t = trace_blocks::IdTimeMs(r->id);
      id_min = std::min(id_min, t);
      id_max = std::max(id_max, t);
    }
    if (id_max - id_min > kMergeSpanMs) return false;
    PO_ASSIGN_OR_RETURN(auto old, DecodeBlock(tail, true));
    std::vector<const TraceRow*> all;
    all.reserve(old.size() + rows.size());
    for (const auto& r : old) all.push_back(&r);
    all.insert(all.end(), rows.begin(), rows.end());
    PO_RETURN_IF_ERROR(WriteBlock(all, tail));
    return true;
  }

  // Deletes up to `max` traces started before cutoff_ms from one block: the block is written
  // again, under its id, without them (or deleted when none stays). Returns how many went.
  Result<std::int64_t> DeleteFromBlock(std::int64_t block, std::int64_t cutoff_ms,
                                       std::int64_t max) {
    PO_ASSIGN_OR_RETURN(auto rows, DecodeBlock(block, true));
    std::vector<const TraceRow*> keep;
    std::int64_t removed = 0;
    for (const auto& r : rows) {
      if (r.time_ms < cutoff_ms && removed < max) {
        ++removed;
      } else {
        keep.push_back(&r);
      }
    }
    if (removed == 0) return 0;
    PO_RETURN_IF_ERROR(keep.empty() ? DeleteBlock(block) : WriteBlock(keep, block));
    return removed;
  }

  Status DeleteBlock(std::int64_t block) {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("DELETE FROM trace_blocks WHERE id = ?"));
    st.Bind(1, block);
    return st.Run();
  }

  Status DecodeBlockInto(std::int64_t block, trace_blocks::DecodedBlock& out) {
    PO_ASSIGN_OR_RETURN(auto st, c_.Prepare("SELECT data FROM trace_blocks WHERE id = ?"));
    st.Bind(1, block);
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row) return Error::Internal("trace block " + std::to_string(block) + " vanished");
    auto s = trace_blocks::DecodeInto(st.Blob(0), out);
    if (!s.ok()) {
      return Error::Internal("trace block " + std::to_string(block) + ": " + s.error().message);
    }
    return OkStatus();
  }

  Result<std::vector<TraceRow>> DecodeBlock(std::int64_t block, bool with_bodies) {
    trace_blocks::DecodedBlock decoded;
    PO_RETURN_IF_ERROR(DecodeBlockInto(block, decoded));
    return decoded.Rows(with_bodies);
  }

  Connection& c_;
  // The widest id range this repository has recorded (a repository lives for one transaction).
  std::int64_t known_span_ = -1;
};

}  // namespace

std::unique_ptr<TraceRepository> NewSqliteTraceRepository(sqlite::Connection& c) {
  return std::make_unique<SqliteTraces>(c);
}

namespace sqlite_traces {

Status ConvertLegacyTraces(Connection& c) {
  {
    PO_ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT COUNT(*) FROM sqlite_schema WHERE "
                                           "type = 'table' AND name = 'traces'"));
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (!row || st.Int(0) == 0) return OkStatus();
  }
  std::int64_t total = 0;
  {
    PO_ASSIGN_OR_RETURN(auto st, c.Prepare("SELECT COUNT(*) FROM traces"));
    PO_ASSIGN_OR_RETURN(bool row, st.Step());
    if (row) total = st.Int(0);
  }
  if (total > 0) {
    log::Info("converting stored traces to compressed blocks", {{"traces", std::to_string(total)}});
  }
  auto repo = NewSqliteTraceRepository(c);
  // Chunks of up to 4096 traces and ~64 MB (stored full bodies can be megabytes each).
  constexpr std::int64_t kChunk = 4096;
  constexpr std::size_t kChunkBytes = 64 << 20;
  std::int64_t after = std::numeric_limits<std::int64_t>::min();
  std::int64_t done = 0;
  for (;;) {
    std::vector<TraceRow> rows;
    std::size_t bytes = 0;
    {
      PO_ASSIGN_OR_RETURN(
          auto st,
          c.Prepare("SELECT rowid, id, project_id, time_ms, key_id, user, session, metadata, "
                    "prompt_name, prompt_version, prompt_label, model, provider, upstream_model, "
                    "input_tokens, output_tokens, usage_estimated, cost_usd, latency_us, ttft_us, "
                    "status, error_class, retries, fallback_used, cache_hit, stream, "
                    "request_body, response_body FROM traces WHERE rowid > ? ORDER BY rowid "
                    "LIMIT ?"));
      st.Bind(1, after).Bind(2, kChunk);
      for (;;) {
        PO_ASSIGN_OR_RETURN(bool row, st.Step());
        if (!row) break;
        after = st.Int(0);
        TraceRow& r = rows.emplace_back();
        r.id = st.Text(1);
        r.project_id = st.Int(2);
        r.time_ms = st.Int(3);
        r.key_id = st.Text(4);
        r.user = st.Text(5);
        r.session = st.Text(6);
        r.metadata_json = st.Text(7);
        r.prompt_name = st.Text(8);
        r.prompt_version = st.Int(9);
        r.prompt_label = st.Text(10);
        r.model = st.Text(11);
        r.provider = st.Text(12);
        r.upstream_model = st.Text(13);
        r.input_tokens = st.Int(14);
        r.output_tokens = st.Int(15);
        r.usage_estimated = st.Int(16) != 0;
        r.cost_usd = st.Double(17);
        r.latency_us = st.Int(18);
        r.ttft_us = st.Int(19);
        r.status = st.Int(20);
        r.error_class = st.Text(21);
        r.retries = st.Int(22);
        r.fallback_used = st.Int(23) != 0;
        r.cache_hit = st.Int(24) != 0;
        r.stream = st.Int(25) != 0;
        r.request_body = st.Text(26);
        r.response_body = st.Text(27);
        bytes += trace_blocks::EncodedSizeBound(r);
        if (bytes > kChunkBytes) break;  // the rest from `after` on, next time round
      }
    }
    if (rows.empty()) break;
    PO_ASSIGN_OR_RETURN(auto n, repo->InsertBatch(rows));
    done += static_cast<std::int64_t>(n);
  }
  PO_RETURN_IF_ERROR(c.Exec("DROP TABLE traces"));
  if (total > 0) {
    log::Info("stored traces converted", {{"traces", std::to_string(done)}});
  }
  return OkStatus();
}

}  // namespace sqlite_traces
}  // namespace promptops::store
