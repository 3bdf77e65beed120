// Traces and feedback as stored: the rows the telemetry module writes (in batches, from its
// writer thread) and the queries the traces API serves. Reached through Tx::traces().
//
// Thread safety: as every repository, valid only inside one Store::Read/Write callback.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.h"

namespace promptops::store {

// One gateway request. JSON-valued columns are serialized JSON text (records.h convention).
struct TraceRow {
  std::string id;  // "tr-...", unique across projects
  std::int64_t project_id = 0;
  std::int64_t time_ms = 0;  // request start, Unix ms
  std::string key_id;
  std::string user;
  std::string session;
  std::string metadata_json = "{}";
  std::string prompt_name;
  std::int64_t prompt_version = 0;
  std::string prompt_label;
  std::string model;
  std::string provider;
  std::string upstream_model;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  bool usage_estimated = false;
  double cost_usd = 0;
  std::int64_t latency_us = 0;
  std::int64_t ttft_us = -1;
  std::int64_t status = 200;
  std::string error_class;
  std::int64_t retries = 0;
  bool fallback_used = false;
  bool cache_hit = false;
  bool stream = false;
  std::string request_body;
  std::string response_body;
};

// Conditions of a trace query; each present field narrows the result (AND).
struct TraceFilter {
  std::optional<std::int64_t> from_ms;  // time_ms >= from_ms
  std::optional<std::int64_t> to_ms;    // time_ms < to_ms
  std::optional<std::string> prompt;
  std::optional<std::int64_t> version;
  std::optional<std::string> model;
  std::optional<std::int64_t> status;      // exact HTTP status
  bool errors_only = false;                // status >= 400 or a non-empty error_class
  std::optional<std::string> error_class;  // exact error class
  std::optional<std::string> user;
};

struct TracePage {
  std::vector<TraceRow> rows;  // newest first
  std::size_t total = 0;       // matching rows in all pages
};

// One feedback event about a trace. prompt_name, prompt_version and model are copied from the
// trace when the feedback is recorded.
struct FeedbackRow {
  std::int64_t id = 0;
  std::int64_t project_id = 0;
  std::string trace_id;
  std::string prompt_name;
  std::int64_t prompt_version = 0;
  std::string model;
  std::string value;                  // "up" | "down" | "score"
  std::optional<std::int64_t> score;  // 1..5 when value == "score"
  std::string comment;
  std::string user;
  std::int64_t created_at = 0;
};

struct FeedbackSummaryFilter {
  std::optional<std::string> prompt;
  std::optional<std::int64_t> version;
  std::optional<std::string> model;
};

// Feedback aggregated per (prompt, version, model).
struct FeedbackSummaryRow {
  std::string prompt_name;
  std::int64_t prompt_version = 0;
  std::string model;
  std::int64_t up = 0;
  std::int64_t down = 0;
  std::int64_t scored = 0;     // events with a score
  std::int64_t score_sum = 0;  // sum of scores (mean = score_sum / scored)
  std::int64_t total = 0;
};

class TraceRepository {
 public:
  virtual ~TraceRepository() = default;
  // Inserts rows, in blocks (store/trace_blocks.h): the rows of one project go into one block
  // (split at trace_blocks::kMaxRows), in time order (stable: rows of one millisecond keep the
  // order they are given in). Ids are not checked for duplicates: they are unique by
  // construction (telemetry::NewTraceId: time digits and 16 random characters) and only the
  // trace writer stores traces. Returns the number inserted.
  virtual Result<std::size_t> InsertBatch(std::span<const TraceRow> rows) = 0;
  // The trace with this id in this project, if any (the first stored, should an id repeat).
  virtual Result<std::optional<TraceRow>> Get(std::int64_t project_id, std::string_view id) = 0;
  // Matching traces, newest first (time, then the reverse of the order they were stored),
  // `limit` from `offset`, with the total count. With with_bodies false, request_body and
  // response_body are left empty.
  virtual Result<TracePage> List(std::int64_t project_id, const TraceFilter& filter,
                                 std::size_t offset, std::size_t limit,
                                 bool with_bodies = false) = 0;
  // The number of matching traces.
  virtual Result<std::size_t> Count(std::int64_t project_id, const TraceFilter& filter) = 0;
  // Visits the matching traces in List's order until `visit` returns false: one pass, for
  // exports (List with growing offsets would walk the first rows again for every page).
  virtual Status ForEach(std::int64_t project_id, const TraceFilter& filter, bool with_bodies,
                         const std::function<bool(TraceRow&&)>& visit) = 0;
  // Deletes traces started before cutoff_ms and feedback created before it, in one project or
  // (project_id nullopt) in all, all in the caller's transaction. Returns the number of traces
  // deleted. For large deletions prefer the bounded calls below, one transaction per chunk.
  virtual Result<std::int64_t> DeleteOlderThan(std::int64_t cutoff_ms,
                                               std::optional<std::int64_t> project_id) = 0;
  // The ids of the projects that have traces, ascending (one index seek per project).
  virtual Result<std::vector<std::int64_t>> TraceProjectIds() = 0;
  // Deletes at most `limit` (-1: no limit) traces of the project started before cutoff_ms,
  // oldest blocks first (a block with older and newer traces is rewritten without the older
  // ones). Returns the number deleted: fewer than `limit` means none is left.
  virtual Result<std::int64_t> DeleteTracesBefore(std::int64_t project_id, std::int64_t cutoff_ms,
                                                  std::int64_t limit) = 0;
  // Deletes at most `limit` feedback events created before cutoff_ms, in one project or in all.
  // Returns the number deleted.
  virtual Result<std::int64_t> DeleteFeedbackBefore(std::int64_t cutoff_ms,
                                                    std::optional<std::int64_t> project_id,
                                                    std::int64_t limit) = 0;

  // Inserts a feedback event (id assigned).
  virtual Result<FeedbackRow> InsertFeedback(const FeedbackRow& f) = 0;
  // A trace's feedback, oldest first.
  virtual Result<std::vector<FeedbackRow>> ListFeedback(std::int64_t project_id,
                                                        std::string_view trace_id) = 0;
  // Feedback counts per (prompt, version, model), ordered by prompt, version, model.
  virtual Result<std::vector<FeedbackSummaryRow>> SummarizeFeedback(
      std::int64_t project_id, const FeedbackSummaryFilter& filter) = 0;
};

}  // namespace promptops::store
