// Metrics: the process's Prometheus metrics (names prefixed promptops_), updated by the gateway,
// the trace writer and the feedback API, and exposed as the Prometheus text format by Expose()
// (served at GET /metrics by api/traces_api.cc).
//
// The interface takes plain values; prometheus-cpp stays an implementation detail.
//
// Cardinality: every label value comes from a bounded set (HTTP statuses, error classes,
// provider names) or from the project's configuration (prompt names, model names). As a guard
// against unbounded series (a client sending random model names that all fail), each metric
// family holds at most MetricsOptions::max_series label sets (the per-model request families:
// max_series models); further sets are counted under the label value "_other" in every label
// and logged once per family.
//
// Threads: every method is thread-safe. The request metrics (ObserveRequest) are counted per
// thread: each network thread adds to cells of its own (a relaxed load and store per value, no
// lock and no cache line shared with another thread), found with one lookup in a per-thread map,
// and a scrape adds the threads up. A scrape taken while a request is being counted may see it
// in its histogram bucket and count but not yet in the sum. The other metrics are prometheus-cpp
// series, looked up in a per-thread cache, then a per-family one (a shared-mutex hash map from
// the label values to the series; prometheus-cpp's Family::Add would hash a std::map of labels
// under a mutex on every call); their update is an atomic add (counters, gauges) or a short
// mutex (histograms, inside prometheus-cpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>

namespace promptops::telemetry {

struct MetricsOptions {
  std::size_t max_series = 2000;  // per metric family
};

// One finished gateway request, as the metrics see it.
struct RequestObservation {
  std::string prompt;        // "" when no prompt was used
  std::int64_t version = 0;  // 0 when no prompt was used (label "")
  std::string model;         // as requested
  int status = 200;          // HTTP status returned to the client
  double duration_seconds = 0;
  double ttft_seconds = -1;  // < 0: not streamed, not observed
  // The gateway's own time: the duration minus the time spent on upstream exchanges; < 0: no
  // upstream was called (not observed).
  double overhead_seconds = -1;
  std::int64_t input_tokens = 0;
  std::int64_t output_tokens = 0;
  double cost_usd = 0;
  // Whether the response cache was consulted (else no cache metric is counted) and hit.
  bool cache_consulted = false;
  bool cache_hit = false;
};

class Metrics {
 public:
  explicit Metrics(MetricsOptions options = {});
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // promptops_gateway_requests_total{prompt,version,model,status},
  // promptops_gateway_request_duration_seconds{model}, promptops_gateway_ttft_seconds{model},
  // promptops_gateway_tokens_total{model,direction}, promptops_gateway_cost_usd_total{model},
  // promptops_gateway_cache_total{result}, promptops_gateway_overhead_seconds{model}.
  void ObserveRequest(const RequestObservation& o);
  // promptops_gateway_retries_total{provider}: one retry of an upstream call.
  void Retry(std::string_view provider);
  // promptops_gateway_fallbacks_total{from_model,to_model}: the request moved to a fallback.
  void Fallback(std::string_view from_model, std::string_view to_model);
  // promptops_gateway_upstream_errors_total{provider,error_class}: one failed upstream attempt.
  void UpstreamError(std::string_view provider, std::string_view error_class);

  // promptops_trace_queue_depth.
  void SetTraceQueueDepth(std::size_t depth);
  // promptops_trace_queue_dropped_total{reason}: reason "queue_full", "stopped" or
  // "write_failed".
  void TracesDropped(std::string_view reason, std::uint64_t n = 1);
  // One write transaction of the trace writer stored `n` traces: promptops_traces_written_total
  // and the histogram promptops_trace_batch_rows (rows per transaction: group commit at work).
  void TracesWritten(std::uint64_t n);
  // promptops_feedback_total{prompt,version,model,value}: value "up", "down" or "score".
  void Feedback(std::string_view prompt, std::int64_t version, std::string_view model,
                std::string_view value);

  // The Prometheus text exposition format (version 0.0.4) of every metric.
  std::string Expose() const;

  // For tests: the value of the counter or gauge series `name` with exactly these labels
  // (a histogram: its sample count); 0 when the series does not exist.
  double Value(std::string_view name, const std::map<std::string, std::string>& labels = {}) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace promptops::telemetry
