#include "telemetry/trace.h"

#include "core/clock.h"
#include "core/hash.h"
#include "core/json.h"

namespace promptops::telemetry {

namespace bj = boost::json;

std::string NewTraceId(std::int64_t unix_ms) { return TimeOrderedId("tr-", 24, unix_ms); }

std::string NewTraceId() { return NewTraceId(ToUnixMillis(Clock::Real().Now())); }

namespace {

// Appends `o` serialized exactly as json::Serialize would, without converting it to a bj::value
// (a copy) and without Boost.JSON's serializer for the usual flat object of strings (most of
// the conversion's cost when it was used).
void AppendMetadata(std::string& out, const bj::object& o) {
  out += '{';
  bool first = true;
  for (const auto& kv : o) {
    if (!first) out += ',';
    first = false;
    json::AppendString(out, kv.key());
    out += ':';
    if (kv.value().is_string()) {
      json::AppendString(out, kv.value().get_string());
    } else {
      json::AppendValue(out, kv.value());
    }
  }
  out += '}';
}

// Sets every field of `row` from `r`, copying (const&) or moving (&&) the strings;
// std::forward<Record>(r).field is an rvalue only for an rvalue record.
template <typename Record>
void FillRow(Record&& r, store::TraceRow& row) {
  row.id = std::forward<Record>(r).id;
  row.project_id = r.project_id;
  row.time_ms = r.time_ms;
  row.key_id = std::forward<Record>(r).key_id;
  row.user = std::forward<Record>(r).user;
  row.session = std::forward<Record>(r).session;
  row.metadata_json.clear();
  AppendMetadata(row.metadata_json, r.metadata);
  row.prompt_name = std::forward<Record>(r).prompt_name;
  row.prompt_version = r.prompt_version;
  row.prompt_label = std::forward<Record>(r).prompt_label;
  row.model = std::forward<Record>(r).model;
  row.provider = std::forward<Record>(r).provider;
  row.upstream_model = std::forward<Record>(r).upstream_model;
  row.input_tokens = r.input_tokens;
  row.output_tokens = r.output_tokens;
  row.usage_estimated = r.usage_estimated;
  row.cost_usd = r.cost_usd;
  row.latency_us = r.latency_us;
  row.ttft_us = r.ttft_us;
  row.status = r.status;
  row.error_class = std::forward<Record>(r).error_class;
  row.retries = r.retries;
  row.fallback_used = r.fallback_used;
  row.cache_hit = r.cache_hit;
  row.stream = r.stream;
  row.request_body = std::forward<Record>(r).request_body;
  row.response_body = std::forward<Record>(r).response_body;
}

}  // namespace

store::TraceRow ToRow(const TraceRecord& r) {
  store::TraceRow row;
  FillRow(r, row);
  return row;
}

store::TraceRow ToRow(TraceRecord&& r) {
  store::TraceRow row;
  FillRow(std::move(r), row);
  return row;
}

void MoveToRow(TraceRecord&& r, store::TraceRow& row) { FillRow(std::move(r), row); }

TraceRecord FromRow(const store::TraceRow& row) {
  TraceRecord r;
  r.id = row.id;
  r.project_id = row.project_id;
  r.time_ms = row.time_ms;
  r.key_id = row.key_id;
  r.user = row.user;
  r.session = row.session;
  if (auto m = json::ParseObject(row.metadata_json); m.ok()) r.metadata = std::move(*m);
  r.prompt_name = row.prompt_name;
  r.prompt_version = row.prompt_version;
  r.prompt_label = row.prompt_label;
  r.model = row.model;
  r.provider = row.provider;
  r.upstream_model = row.upstream_model;
  r.input_tokens = row.input_tokens;
  r.output_tokens = row.output_tokens;
  r.usage_estimated = row.usage_estimated;
  r.cost_usd = row.cost_usd;
  r.latency_us = row.latency_us;
  r.ttft_us = row.ttft_us;
  r.status = static_cast<int>(row.status);
  r.error_class = row.error_class;
  r.retries = static_cast<int>(row.retries);
  r.fallback_used = row.fallback_used;
  r.cache_hit = row.cache_hit;
  r.stream = row.stream;
  r.request_body = row.request_body;
  r.response_body = row.response_body;
  return r;
}

bj::object TraceJson(const store::TraceRow& r, bool with_bodies) {
  bj::object o;
  o["id"] = r.id;
  o["time"] = FormatRfc3339(FromUnixMillis(r.time_ms));
  o["key_id"] = r.key_id;
  o["user"] = r.user;
  o["session"] = r.session;
  auto meta = json::Parse(r.metadata_json);
  o["metadata"] = meta.ok() ? std::move(*meta) : bj::value(bj::object());
  if (r.prompt_name.empty()) {
    o["prompt"] = nullptr;
  } else {
    o["prompt"] = bj::object{
        {"name", r.prompt_name}, {"version", r.prompt_version}, {"label", r.prompt_label}};
  }
  o["model"] = r.model;
  o["provider"] = r.provider;
  o["upstream_model"] = r.upstream_model;
  o["usage"] = bj::object{{"input_tokens", r.input_tokens},
                          {"output_tokens", r.output_tokens},
                          {"estimated", r.usage_estimated}};
  o["cost_usd"] = r.cost_usd;
  o["latency_us"] = r.latency_us;
  o["ttft_us"] = r.ttft_us < 0 ? bj::value(nullptr) : bj::value(r.ttft_us);
  o["status"] = r.status;
  o["error_class"] = r.error_class.empty() ? bj::value(nullptr) : bj::value(r.error_class);
  o["retries"] = r.retries;
  o["fallback_used"] = r.fallback_used;
  o["cache_hit"] = r.cache_hit;
  o["stream"] = r.stream;
  if (with_bodies) {
    o["request_body"] = r.request_body;
    o["response_body"] = r.response_body;
  }
  return o;
}

bj::object FeedbackJson(const store::FeedbackRow& f) {
  bj::object o;
  o["id"] = f.id;
  o["trace_id"] = f.trace_id;
  o["value"] = f.value;
  o["score"] = f.score ? bj::value(*f.score) : bj::value(nullptr);
  o["comment"] = f.comment;
  o["user"] = f.user;
  o["created_at"] = FormatRfc3339(FromUnixMillis(f.created_at));
  return o;
}

bj::object FeedbackSummaryJson(const store::FeedbackSummaryRow& s) {
  bj::object o;
  o["prompt"] = s.prompt_name;
  o["version"] = s.prompt_version;
  o["model"] = s.model;
  o["up"] = s.up;
  o["down"] = s.down;
  o["scored"] = s.scored;
  o["mean_score"] =
      s.scored > 0 ? bj::value(static_cast<double>(s.score_sum) / static_cast<double>(s.scored))
                   : bj::value(nullptr);
  o["total"] = s.total;
  return o;
}

}  // namespace promptops::telemetry
