// TraceService: the control plane's access to stored traces and feedback — queries, export,
// retention by request, and recording feedback — with the caller's project and role checked.
// The traces API (api/traces_api.cc) is a thin HTTP layer around it.
//
// Roles: any key (viewer and up) may read traces and send feedback; deleting traces needs
// admin.
//
// Threads: thread-safe; every method runs database transactions, so call it from a blocking
// route, never on a network thread.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

#include "core/actor.h"
#include "core/clock.h"
#include "core/error.h"
#include "store/store.h"
#include "telemetry/feedback.h"

namespace promptops::telemetry {

class Metrics;
class TraceWriter;

struct TraceDetail {
  store::TraceRow trace;
  std::vector<store::FeedbackRow> feedback;
};

class TraceService {
 public:
  // `writer` (optional) is flushed when a trace is looked up and not found, so that a trace
  // still in the queue (at most one batch interval old) is found. `metrics` (optional) counts
  // feedback. All must outlive the service.
  TraceService(store::Store& store, Clock& clock, TraceWriter* writer = nullptr,
               Metrics* metrics = nullptr);

  // Traces of the actor's project matching `filter`, newest first.
  Result<store::TracePage> List(const Actor& actor, const store::TraceFilter& filter,
                                std::size_t offset, std::size_t limit,
                                bool with_bodies = false) const;
  // Calls `sink` for each matching trace (bodies included), newest first, at most `max`, all
  // read in one transaction (a consistent snapshot). Returns the number of matching traces
  // (which may exceed `max`).
  Result<std::size_t> Export(const Actor& actor, const store::TraceFilter& filter, std::size_t max,
                             const std::function<void(const store::TraceRow&)>& sink) const;
  // One trace with its feedback. NotFound if the project has no such trace.
  Result<TraceDetail> Get(const Actor& actor, std::string_view id) const;
  // Deletes the project's traces (and feedback) older than `days` days, in transactions of at
  // most kDeleteChunk rows (retention.h; not atomic). Needs admin.
  // Returns the number of traces deleted.
  Result<std::int64_t> DeleteOlderThan(const Actor& actor, std::int64_t days);
  // Records feedback on a trace of the actor's project. NotFound for an unknown trace.
  Result<store::FeedbackRow> AddFeedback(const Actor& actor, std::string_view trace_id,
                                         const FeedbackInput& in);
  // Feedback aggregated per (prompt, version, model) in the actor's project.
  Result<std::vector<store::FeedbackSummaryRow>> SummarizeFeedback(
      const Actor& actor, const store::FeedbackSummaryFilter& filter) const;

 private:
  Result<std::optional<store::TraceRow>> Find(std::int64_t project_id, std::string_view id) const;

  store::Store& store_;
  Clock& clock_;
  TraceWriter* writer_;
  Metrics* metrics_;
};

}  // namespace promptops::telemetry
