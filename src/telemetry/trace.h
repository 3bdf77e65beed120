// A trace: what telemetry records about one gateway request, and its conversions to the stored
// row (store::TraceRow) and to the JSON the traces API serves.
#pragma once

#include <boost/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "store/trace_repository.h"

namespace promptops::telemetry {

// Filled by the gateway once the response to the client is complete (or failed), then handed to
// Telemetry::RecordRequest (metrics + trace queue). Plain value; moved through the queue.
struct TraceRecord {
  std::string id;            // NewTraceId(), assigned by the gateway
  std::int64_t time_ms = 0;  // request start, Unix ms
  std::int64_t project_id = 0;
  std::string key_id;  // public id of the API key ("pk-..."), never the secret
  std::string user;
  std::string session;
  boost::json::object metadata;  // from the request
  std::string prompt_name;       // "" when the request named a model directly
  std::int64_t prompt_version = 0;
  std::string prompt_label;
  std::string model;  // as requested ("gpt-4o-mini", "chat-default", "prompt:x@production")
  std::string provider;
  std::string upstream_model;
  std::int64_t input_tokens = 0, output_tokens = 0;
  bool usage_estimated = false;
  double cost_usd = 0;
  std::int64_t latency_us = 0;
  std::int64_t ttft_us = -1;  // -1: not streamed
  // Of latency_us, the time the call spent on its upstream exchanges (and the backoff between
  // retries); -1 when no upstream was called (a cache hit, a request refused before). For the
  // gateway overhead metric; not stored.
  std::int64_t upstream_us = -1;
  int status = 200;  // HTTP status returned to the client
  // "" on success, else e.g. "rate_limited", "timeout", "upstream_5xx", "client_cancelled".
  std::string error_class;
  int retries = 0;
  bool fallback_used = false;
  bool cache_hit = false;
  bool stream = false;
  // Stored as given; the gateway fills them per its body policy (none | masked | full).
  std::string request_body, response_body;
};

// A new trace id: "tr-" + 24 characters of [0-9A-Za-z], the first 8 encoding the time in ms
// (core/hash.h TimeOrderedId), so ids sort by creation time and the traces primary-key index
// grows at its right edge. The overload without a time uses the wall clock (Clock::Real), which
// keeps ids ordered even when the caller's clock is a test's FakeClock.
std::string NewTraceId();
std::string NewTraceId(std::int64_t unix_ms);

// The stored row of a trace; metadata_json is json::Serialize(metadata), byte for byte.
store::TraceRow ToRow(const TraceRecord& r);
// Moves the strings out of `r` (the trace writer's batch is discarded after conversion).
store::TraceRow ToRow(TraceRecord&& r);
// ToRow(std::move(r)) into an existing row (every field overwritten, the row's own string
// buffers reused where nothing is moved in): the trace writer fills rows in place.
void MoveToRow(TraceRecord&& r, store::TraceRow& row);
TraceRecord FromRow(const store::TraceRow& row);

// The API's JSON for a trace: times in RFC 3339, ttft_us and error_class null when absent.
// with_bodies adds request_body and response_body (GET one trace, export).
boost::json::object TraceJson(const store::TraceRow& row, bool with_bodies);
// {"id","value","score","comment","user","created_at"}.
boost::json::object FeedbackJson(const store::FeedbackRow& f);
// {"prompt","version","model","up","down","scored","mean_score","total"}; mean_score null
// when no event had a score.
boost::json::object FeedbackSummaryJson(const store::FeedbackSummaryRow& s);

}  // namespace promptops::telemetry
