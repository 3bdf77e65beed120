#include "telemetry/metrics.h"

#include <atomic>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <array>
#include <mutex>
#include <shared_mutex>
#include <unordered_map>
#include <vector>

#include "core/hash.h"
#include "core/log.h"

namespace promptops::telemetry {

namespace {

constexpr std::string_view kOther = "_other";

// 1 ms to 60 s.
// The gateway's own time per request: tens of microseconds when all is well.
const prometheus::Histogram::BucketBoundaries& OverheadBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1};
  return kBuckets;
}

const prometheus::Histogram::BucketBoundaries& LatencyBuckets() {
  static const prometheus::Histogram::BucketBoundaries kBuckets = {
      0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};
  return kBuckets;
}

// Ids that key per-thread caches (of a Series, of a Metrics object): never reused, so a cache
// entry left by a destroyed object never matches a new one at the same address.
std::uint64_t NextCacheId() {
  static std::atomic<std::uint64_t> next{1};
  return next.fetch_add(1);
}

// The series of one metric family, cached by label values and capped at max_series.
template <typename M>
class Series {
 public:
  Series(prometheus::Family<M>& family, std::vector<std::string> label_names, std::size_t max,
         std::string name)
      : family_(family), names_(std::move(label_names)), max_(max), name_(std::move(name)) {}

  // The series for these label values (in label_names order); extra arguments are passed to
  // Family::Add (a histogram's buckets).
  template <typename... Args>
  M& Get(std::initializer_list<std::string_view> values, Args&&... args) {
    // Each thread keeps its own map from label values to series: once a thread has seen a
    // label set, finding its series takes no lock and touches no shared cache line (a shared
    // lock taken by every request on every network thread cost more than the lookup). The
    // key starts with this Series' id, never reused, so maps of destroyed Series never match.
    thread_local std::string key_buffer;
    thread_local std::unordered_map<std::string, void*, StringHash, std::equal_to<>> local;
    key_buffer.assign(reinterpret_cast<const char*>(&id_), sizeof id_);
    for (auto v : values) {
      key_buffer.append(v);
      key_buffer.push_back('\x1f');
    }
    if (auto it = local.find(std::string_view(key_buffer)); it != local.end()) {
      return *static_cast<M*>(it->second);
    }
    M& m = Shared(std::string_view(key_buffer).substr(sizeof id_), values,
                  std::forward<Args>(args)...);
    if (local.size() < kLocalMax) local.emplace(key_buffer, &m);
    return m;
  }

 private:
  template <typename... Args>
  M& Shared(std::string_view key_view, std::initializer_list<std::string_view> values,
            Args&&... args) {
    {
      std::shared_lock lock(mu_);
      if (auto it = cache_.find(key_view); it != cache_.end()) return *it->second;
    }
    std::string key(key_view);
    std::unique_lock lock(mu_);
    if (auto it = cache_.find(key); it != cache_.end()) return *it->second;
    std::map<std::string, std::string> labels;
    if (cache_.size() >= max_) {
      if (!warned_) {
        warned_ = true;
        log::Warn("metric has too many label sets; counting new ones as _other",
                  {{"metric", name_}, {"max_series", std::to_string(max_)}});
      }
      key.clear();
      for (const auto& n : names_) labels[n] = std::string(kOther);
      for (std::size_t i = 0; i < names_.size(); ++i) key += std::string(kOther) + '\x1f';
      if (auto it = cache_.find(key); it != cache_.end()) return *it->second;
      // The overflow series itself may exceed max by one.
    } else {
      std::size_t i = 0;
      for (auto v : values) labels[names_[i++]] = std::string(v);
    }
    M& m = family_.Add(labels, std::forward<Args>(args)...);
    cache_.emplace(std::move(key), &m);
    return m;
  }

  static constexpr std::size_t kLocalMax = 4096;  // per thread and Series type

  const std::uint64_t id_ = NextCacheId();
  prometheus::Family<M>& family_;
  std::vector<std::string> names_;
  std::size_t max_;
  std::string name_;
  std::shared_mutex mu_;
  std::unordered_map<std::string, M*, StringHash, std::equal_to<>> cache_;  // guarded by mu_
  bool warned_ = false;                                                     // guarded by mu_
};

std::string VersionLabel(std::int64_t v) { return v > 0 ? std::to_string(v) : std::string(); }

}  // namespace

struct Metrics::Impl {
  explicit Impl(MetricsOptions o) : opts(o), registry(std::make_shared<prometheus::Registry>()) {}

  const std::uint64_t id = NextCacheId();  // keys this object's per-thread caches

  template <typename M>
  std::unique_ptr<Series<M>> Make(prometheus::Family<M>& f, std::vector<std::string> labels,
                                  std::string name) {
    return std::make_unique<Series<M>>(f, std::move(labels), opts.max_series, std::move(name));
  }
  prometheus::Family<prometheus::Counter>& Counter(const std::string& name,
                                                   const std::string& help) {
    return prometheus::BuildCounter().Name(name).Help(help).Register(*registry);
  }
  prometheus::Family<prometheus::Histogram>& Histogram(const std::string& name,
                                                       const std::string& help) {
    return prometheus::BuildHistogram().Name(name).Help(help).Register(*registry);
  }

  MetricsOptions opts;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<Series<prometheus::Counter>> requests, tokens, cost, cache, retries, fallbacks,
      upstream_errors, dropped, feedback;
  std::unique_ptr<Series<prometheus::Histogram>> duration, ttft, overhead;
  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Counter* written = nullptr;
  prometheus::Histogram* batch_rows = nullptr;
};

Metrics::Metrics(MetricsOptions options) : impl_(std::make_unique<Impl>(options)) {
  auto& i = *impl_;
  i.requests = i.Make(i.Counter("promptops_gateway_requests_total",
                                "Gateway requests by prompt, prompt version, model and HTTP "
                                "status returned to the client."),
                      {"prompt", "version", "model", "status"}, "promptops_gateway_requests_total");
  i.duration = i.Make(i.Histogram("promptops_gateway_request_duration_seconds",
                                  "Gateway request duration, from request start to the last "
                                  "byte of the response."),
                      {"model"}, "promptops_gateway_request_duration_seconds");
  i.ttft = i.Make(i.Histogram("promptops_gateway_ttft_seconds",
                              "Time to the first streamed token (streamed requests only)."),
                  {"model"}, "promptops_gateway_ttft_seconds");
  i.overhead = i.Make(i.Histogram("promptops_gateway_overhead_seconds",
                                  "The gateway's own time per request answered by an upstream: "
                                  "the request duration minus the upstream exchanges (and the "
                                  "backoff between retries)."),
                      {"model"}, "promptops_gateway_overhead_seconds");
  i.tokens = i.Make(i.Counter("promptops_gateway_tokens_total",
                              "Tokens by model and direction (input or output)."),
                    {"model", "direction"}, "promptops_gateway_tokens_total");
  i.cost = i.Make(i.Counter("promptops_gateway_cost_usd_total", "Estimated cost in US dollars."),
                  {"model"}, "promptops_gateway_cost_usd_total");
  i.cache = i.Make(i.Counter("promptops_gateway_cache_total", "Response cache lookups by result."),
                   {"result"}, "promptops_gateway_cache_total");
  i.retries = i.Make(i.Counter("promptops_gateway_retries_total", "Upstream call retries."),
                     {"provider"}, "promptops_gateway_retries_total");
  i.fallbacks = i.Make(i.Counter("promptops_gateway_fallbacks_total",
                                 "Requests moved from a model to its fallback."),
                       {"from_model", "to_model"}, "promptops_gateway_fallbacks_total");
  i.upstream_errors =
      i.Make(i.Counter("promptops_gateway_upstream_errors_total",
                       "Failed upstream attempts by provider and error class."),
             {"provider", "error_class"}, "promptops_gateway_upstream_errors_total");
  i.queue_depth = &prometheus::BuildGauge()
                       .Name("promptops_trace_queue_depth")
                       .Help("Traces waiting in the queue to be stored.")
                       .Register(*i.registry)
                       .Add({});
  i.dropped = i.Make(i.Counter("promptops_trace_queue_dropped_total",
                               "Traces not stored, by reason: queue_full, stopped, write_failed."),
                     {"reason"}, "promptops_trace_queue_dropped_total");
  i.written =
      &i.Counter("promptops_traces_written_total", "Traces stored in the database.").Add({});
  i.batch_rows = &i.Histogram("promptops_trace_batch_rows",
                              "Traces stored per write transaction of the trace writer.")
                      .Add({}, prometheus::Histogram::BucketBoundaries{1, 2, 4, 8, 16, 32, 64, 128,
                                                                       256, 512, 1024, 2048});
  i.feedback = i.Make(i.Counter("promptops_feedback_total",
                                "Feedback events by prompt, version, model and value (up, down, "
                                "score)."),
                      {"prompt", "version", "model", "value"}, "promptops_feedback_total");
}

Metrics::~Metrics() = default;

void Metrics::ObserveRequest(const RequestObservation& o) {
  auto& i = *impl_;
  // All series a request of this prompt, version, model and status may touch, found with one
  // per-thread lookup (instead of one per series) and each resolved the first time it is
  // needed, so that no series appears in the exposition before it counted something. The key
  // starts with this object's id, never reused, like the per-series caches.
  struct RequestSeries {
    prometheus::Counter* requests = nullptr;
    prometheus::Histogram* duration = nullptr;
    prometheus::Histogram* ttft = nullptr;
    prometheus::Histogram* overhead = nullptr;
    prometheus::Counter* input = nullptr;
    prometheus::Counter* output = nullptr;
    prometheus::Counter* cost = nullptr;
    prometheus::Counter* cache_hit = nullptr;
    prometheus::Counter* cache_miss = nullptr;
  };
  thread_local std::string key;
  thread_local std::unordered_map<std::string, RequestSeries, StringHash, std::equal_to<>> local;
  static constexpr std::size_t kLocalMax = 4096;
  key.assign(reinterpret_cast<const char*>(&i.id), sizeof i.id);
  key.append(reinterpret_cast<const char*>(&o.version), sizeof o.version);
  key.append(reinterpret_cast<const char*>(&o.status), sizeof o.status);
  key.append(o.prompt);  // a registry name: never contains the separator, so the key is exact
  key.push_back('\x1f');
  key.append(o.model);
  RequestSeries scratch;  // when the per-thread map is full
  auto it = local.find(std::string_view(key));
  RequestSeries& s = it != local.end()          ? it->second
                     : local.size() < kLocalMax ? local.emplace(key, RequestSeries{}).first->second
                                                : scratch;
  if (!s.requests) {
    s.requests =
        &i.requests->Get({o.prompt, VersionLabel(o.version), o.model, std::to_string(o.status)});
    s.duration = &i.duration->Get({o.model}, LatencyBuckets());
  }
  s.requests->Increment();
  s.duration->Observe(o.duration_seconds);
  if (o.ttft_seconds >= 0) {
    if (!s.ttft) s.ttft = &i.ttft->Get({o.model}, LatencyBuckets());
    s.ttft->Observe(o.ttft_seconds);
  }
  if (o.overhead_seconds >= 0) {
    if (!s.overhead) s.overhead = &i.overhead->Get({o.model}, OverheadBuckets());
    s.overhead->Observe(o.overhead_seconds);
  }
  if (o.input_tokens > 0) {
    if (!s.input) s.input = &i.tokens->Get({o.model, "input"});
    s.input->Increment(static_cast<double>(o.input_tokens));
  }
  if (o.output_tokens > 0) {
    if (!s.output) s.output = &i.tokens->Get({o.model, "output"});
    s.output->Increment(static_cast<double>(o.output_tokens));
  }
  if (o.cost_usd > 0) {
    if (!s.cost) s.cost = &i.cost->Get({o.model});
    s.cost->Increment(o.cost_usd);
  }
  if (o.cache_consulted) {
    prometheus::Counter*& c = o.cache_hit ? s.cache_hit : s.cache_miss;
    if (!c) c = &i.cache->Get({o.cache_hit ? "hit" : "miss"});
    c->Increment();
  }
}

void Metrics::Retry(std::string_view provider) { impl_->retries->Get({provider}).Increment(); }

void Metrics::Fallback(std::string_view from_model, std::string_view to_model) {
  impl_->fallbacks->Get({from_model, to_model}).Increment();
}

void Metrics::UpstreamError(std::string_view provider, std::string_view error_class) {
  impl_->upstream_errors->Get({provider, error_class}).Increment();
}

void Metrics::SetTraceQueueDepth(std::size_t depth) {
  impl_->queue_depth->Set(static_cast<double>(depth));
}

void Metrics::TracesDropped(std::string_view reason, std::uint64_t n) {
  impl_->dropped->Get({reason}).Increment(static_cast<double>(n));
}

void Metrics::TracesWritten(std::uint64_t n) {
  impl_->written->Increment(static_cast<double>(n));
  impl_->batch_rows->Observe(static_cast<double>(n));
}

void Metrics::Feedback(std::string_view prompt, std::int64_t version, std::string_view model,
                       std::string_view value) {
  impl_->feedback->Get({prompt, VersionLabel(version), model, value}).Increment();
}

std::string Metrics::Expose() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->registry->Collect());
}

double Metrics::Value(std::string_view name,
                      const std::map<std::string, std::string>& labels) const {
  for (const auto& family : impl_->registry->Collect()) {
    if (family.name != name) continue;
    for (const auto& m : family.metric) {
      std::map<std::string, std::string> have;
      for (const auto& l : m.label) have[l.name] = l.value;
      if (have != labels) continue;
      switch (family.type) {
        case prometheus::MetricType::Counter:
          return m.counter.value;
        case prometheus::MetricType::Gauge:
          return m.gauge.value;
        case prometheus::MetricType::Histogram:
          return static_cast<double>(m.histogram.sample_count);
        default:
          return 0;
      }
    }
  }
  return 0;
}

}  // namespace promptops::telemetry
