#include "telemetry/trace_service.h"

#include <algorithm>

#include "telemetry/metrics.h"
#include "telemetry/retention.h"
#include "telemetry/trace_writer.h"

namespace promptops::telemetry {

namespace {
constexpr std::int64_t kDayMs = 24LL * 60 * 60 * 1000;
}

TraceService::TraceService(store::Store& store, Clock& clock, TraceWriter* writer, Metrics* metrics)
    : store_(store), clock_(clock), writer_(writer), metrics_(metrics) {}

Result<store::TracePage> TraceService::List(const Actor& actor, const store::TraceFilter& filter,
                                            std::size_t offset, std::size_t limit,
                                            bool with_bodies) const {
  PO_RETURN_IF_ERROR(actor.Require(Role::kViewer, "read traces"));
  store::TracePage page;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(page,
                        tx.traces().List(actor.project_id, filter, offset, limit, with_bodies));
    return OkStatus();
  }));
  return page;
}

Result<std::size_t> TraceService::Export(
    const Actor& actor, const store::TraceFilter& filter, std::size_t max,
    const std::function<void(const store::TraceRow&)>& sink) const {
  PO_RETURN_IF_ERROR(actor.Require(Role::kViewer, "read traces"));
  std::size_t total = 0;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(total, tx.traces().Count(actor.project_id, filter));
    std::size_t sent = 0;
    return tx.traces().ForEach(actor.project_id, filter, true, [&](store::TraceRow&& row) {
      if (sent >= max) return false;
      sink(row);
      return ++sent < max;
    });
  }));
  return total;
}

Result<std::optional<store::TraceRow>> TraceService::Find(std::int64_t project_id,
                                                          std::string_view id) const {
  std::optional<store::TraceRow> row;
  for (int attempt = 0; attempt < 2; ++attempt) {
    PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
      PO_ASSIGN_OR_RETURN(row, tx.traces().Get(project_id, id));
      return OkStatus();
    }));
    if (row || !writer_ || attempt > 0) break;
    writer_->Flush();  // the trace may still be queued
  }
  return row;
}

Result<TraceDetail> TraceService::Get(const Actor& actor, std::string_view id) const {
  PO_RETURN_IF_ERROR(actor.Require(Role::kViewer, "read traces"));
  PO_ASSIGN_OR_RETURN(auto row, Find(actor.project_id, id));
  if (!row) return Error::NotFound("trace '" + std::string(id) + "' not found");
  TraceDetail d{std::move(*row), {}};
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(d.feedback, tx.traces().ListFeedback(actor.project_id, id));
    return OkStatus();
  }));
  return d;
}

Result<std::int64_t> TraceService::DeleteOlderThan(const Actor& actor, std::int64_t days) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kAdmin, "delete traces"));
  if (days < 0) return Error::InvalidArgument("days must not be negative");
  std::int64_t cutoff = ToUnixMillis(clock_.Now()) - days * kDayMs;
  // In bounded transactions, like retention: `older_than_days=0` may delete millions of rows.
  return DeleteOlderThanInChunks(store_, cutoff, actor.project_id);
}

Result<store::FeedbackRow> TraceService::AddFeedback(const Actor& actor, std::string_view trace_id,
                                                     const FeedbackInput& in) {
  PO_RETURN_IF_ERROR(actor.Require(Role::kViewer, "send feedback"));
  PO_ASSIGN_OR_RETURN(auto trace, Find(actor.project_id, trace_id));
  if (!trace) return Error::NotFound("trace '" + std::string(trace_id) + "' not found");
  store::FeedbackRow f;
  f.project_id = actor.project_id;
  f.trace_id = trace->id;
  f.prompt_name = trace->prompt_name;
  f.prompt_version = trace->prompt_version;
  f.model = trace->model;
  f.value = in.value;
  f.score = in.score;
  f.comment = in.comment;
  f.user = in.user.empty() ? trace->user : in.user;
  f.created_at = ToUnixMillis(clock_.Now());
  store::FeedbackRow out;
  PO_RETURN_IF_ERROR(store_.Write([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(out, tx.traces().InsertFeedback(f));
    return OkStatus();
  }));
  if (metrics_) metrics_->Feedback(out.prompt_name, out.prompt_version, out.model, out.value);
  return out;
}

Result<std::vector<store::FeedbackSummaryRow>> TraceService::SummarizeFeedback(
    const Actor& actor, const store::FeedbackSummaryFilter& filter) const {
  PO_RETURN_IF_ERROR(actor.Require(Role::kViewer, "read feedback"));
  std::vector<store::FeedbackSummaryRow> rows;
  PO_RETURN_IF_ERROR(store_.Read([&](store::Tx& tx) -> Status {
    PO_ASSIGN_OR_RETURN(rows, tx.traces().SummarizeFeedback(actor.project_id, filter));
    return OkStatus();
  }));
  return rows;
}

}  // namespace promptops::telemetry
