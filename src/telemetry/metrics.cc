#include "telemetry/metrics.h"

#include <atomic>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <array>
#include <limits>
#include <mutex>
#include <shared_mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "core/hash.h"
#include "core/log.h"

namespace promptops::telemetry {

namespace {

constexpr std::string_view kOther = "_other";

// The gateway's own time per request: tens of microseconds when all is well.
constexpr std::array<double, 12> kOverheadBounds = {
    0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1};
// 1 ms to 60 s.
constexpr std::array<double, 16> kLatencyBounds = {
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60};

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

// ---- Request metrics, counted per thread ----
//
// Every gateway request updates a dozen values. Shared series would make the network threads
// take turns on the same cache lines (and, for prometheus-cpp's histograms, a mutex) on every
// request; instead each thread counts into cells of its own and a scrape adds the threads up.
// A cell has one writer, its thread: an update is a relaxed load and store (no read-modify-write,
// no lock prefix), and the reader's relaxed loads see each value whole. A scrape taken while a
// request is being counted may see its bucket but not yet its sum; the count is always the sum
// of the buckets.

void Add(std::atomic<std::uint64_t>& cell, std::uint64_t n) {
  cell.store(cell.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}
void Add(std::atomic<double>& cell, double v) {
  cell.store(cell.load(std::memory_order_relaxed) + v, std::memory_order_relaxed);
}

template <std::size_t N>
struct HistogramCells {
  std::array<std::atomic<std::uint64_t>, N + 1> buckets{};  // per bound, then +Inf; not cumulative
  std::atomic<double> sum{0};

  void Observe(const std::array<double, N>& bounds, double v) {
    // The first bound >= v: a value on a bound counts in that bound's bucket (le), as in
    // prometheus-cpp.
    auto i = static_cast<std::size_t>(std::lower_bound(bounds.begin(), bounds.end(), v) -
                                      bounds.begin());
    Add(buckets[i], 1);
    Add(sum, v);
  }
};

// One thread's counts of one request label set.
struct RequestCells {
  explicit RequestCells(std::thread::id t) : owner(t) {}
  const std::thread::id owner;
  std::atomic<std::uint64_t> requests{0}, input_tokens{0}, output_tokens{0}, cache_hits{0},
      cache_misses{0};
  std::atomic<double> cost{0};
  HistogramCells<kLatencyBounds.size()> duration, ttft;
  HistogramCells<kOverheadBounds.size()> overhead;
};

// A histogram's counts added up over threads (and label sets), as exposed.
template <std::size_t N>
struct HistogramTotal {
  std::array<std::uint64_t, N + 1> buckets{};
  double sum = 0;
  std::uint64_t Count() const {
    std::uint64_t n = 0;
    for (auto b : buckets) n += b;
    return n;
  }
  void Add(const HistogramCells<N>& c) {
    // Buckets first: the count comes from them, whatever the sum's state.
    for (std::size_t i = 0; i <= N; ++i) buckets[i] += c.buckets[i].load(std::memory_order_relaxed);
    sum += c.sum.load(std::memory_order_relaxed);
  }
  prometheus::ClientMetric Metric(const std::array<double, N>& bounds) const {
    prometheus::ClientMetric m;
    std::uint64_t cumulative = 0;
    m.histogram.bucket.reserve(N + 1);
    for (std::size_t i = 0; i <= N; ++i) {
      cumulative += buckets[i];
      m.histogram.bucket.push_back(
          {cumulative, i < N ? bounds[i] : std::numeric_limits<double>::infinity()});
    }
    m.histogram.sample_count = cumulative;
    m.histogram.sample_sum = sum;
    return m;
  }
};

// A request label set (prompt, version, model, status), the labels it is exposed under (after
// the series caps: "_other" beyond them) and the cells of every thread that counted it.
struct RequestSet {
  std::string prompt, version, model, status;        // promptops_gateway_requests_total's labels
  std::string model_label;                           // the per-model families' label
  std::vector<std::unique_ptr<RequestCells>> cells;  // one per thread; guarded by request_mu

  RequestCells& CellsOf(std::thread::id t) {
    for (auto& c : cells) {
      if (c->owner == t) return *c;  // a thread id reused after its thread ended: its cells
    }
    return *cells.emplace_back(std::make_unique<RequestCells>(t));
  }
};

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

  // The request label set of `key` (see ObserveRequest), made on first sight. Called with
  // request_mu held.
  RequestSet& Resolve(std::string_view key, const RequestObservation& o) {
    if (auto it = sets.find(key); it != sets.end()) return *it->second;
    // Per-model families: the model's own label while they have room (max_series models).
    std::string model_label = o.model;
    if (!models.contains(std::string_view(o.model))) {
      if (models.size() < opts.max_series) {
        models.emplace(o.model);
      } else {
        model_label = std::string(kOther);
        if (!warned_models) {
          warned_models = true;
          log::Warn("metric has too many label sets; counting new ones as _other",
                    {{"metric",
                      "promptops_gateway_{request_duration_seconds,ttft_seconds,"
                      "overhead_seconds,tokens_total,cost_usd_total}"},
                     {"max_series", std::to_string(opts.max_series)}});
        }
      }
    }
    if (sets.size() < opts.max_series) {
      auto set = std::make_unique<RequestSet>();
      set->prompt = o.prompt;
      set->version = VersionLabel(o.version);
      set->model = o.model;
      set->status = std::to_string(o.status);
      set->model_label = std::move(model_label);
      return *sets.emplace(std::string(key), std::move(set)).first->second;
    }
    // Beyond the cap: one set per model label, with "_other" in all of
    // promptops_gateway_requests_total's labels (the raw keys are not kept: they are unbounded).
    if (!warned_requests) {
      warned_requests = true;
      log::Warn("metric has too many label sets; counting new ones as _other",
                {{"metric", "promptops_gateway_requests_total"},
                 {"max_series", std::to_string(opts.max_series)}});
    }
    auto& set = overflow[model_label];
    if (!set) {
      set = std::make_unique<RequestSet>();
      set->prompt = set->version = set->model = set->status = std::string(kOther);
      set->model_label = model_label;
    }
    return *set;
  }

  // The request families, added up over label sets and threads.
  std::vector<prometheus::MetricFamily> CollectRequests() const;
  // The request families, then the registry's.
  std::vector<prometheus::MetricFamily> CollectAll() const;

  MetricsOptions opts;
  std::shared_ptr<prometheus::Registry> registry;
  std::unique_ptr<Series<prometheus::Counter>> retries, fallbacks, upstream_errors, dropped,
      feedback;

  mutable std::mutex request_mu;  // guards the request sets and their cells lists
  std::unordered_map<std::string, std::unique_ptr<RequestSet>, StringHash, std::equal_to<>> sets;
  std::unordered_map<std::string, std::unique_ptr<RequestSet>> overflow;  // by model label
  std::unordered_set<std::string, StringHash, std::equal_to<>> models;    // labelled ones
  bool warned_requests = false, warned_models = false;
  prometheus::Gauge* queue_depth = nullptr;
  prometheus::Counter* written = nullptr;
  prometheus::Histogram* batch_rows = nullptr;
};

Metrics::Metrics(MetricsOptions options) : impl_(std::make_unique<Impl>(options)) {
  auto& i = *impl_;
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
  // This thread's cells of the request's label set, found with one lookup in a per-thread map
  // (of this Metrics object: another one seen on the thread in between empties it). The key is
  // exact: a prompt name (a registry name) never contains the separator.
  struct Local {
    std::uint64_t owner = 0;  // the id of the Metrics object whose cells `cells` holds
    std::unordered_map<std::string, RequestCells*, StringHash, std::equal_to<>> cells;
    // The label set of the thread's last request and its cells: a run of requests of one
    // prompt version, model and status (the usual traffic) finds them without a key or a lookup.
    RequestCells* last = nullptr;
    std::int64_t last_version = 0;
    int last_status = 0;
    std::string last_prompt, last_model;
  };
  thread_local Local local;
  thread_local std::string key;
  static constexpr std::size_t kLocalMax = 4096;
  if (local.owner != i.id) {
    local.cells.clear();
    local.last = nullptr;
    local.owner = i.id;
  }
  RequestCells* c;
  if (local.last && o.version == local.last_version && o.status == local.last_status &&
      o.model == local.last_model && o.prompt == local.last_prompt) {
    c = local.last;
  } else {
    key.assign(reinterpret_cast<const char*>(&o.version), sizeof o.version);
    key.append(reinterpret_cast<const char*>(&o.status), sizeof o.status);
    key.append(o.prompt);
    key.push_back('\x1f');
    key.append(o.model);
    if (auto it = local.cells.find(std::string_view(key)); it != local.cells.end()) {
      c = it->second;
    } else {
      {
        std::lock_guard lock(i.request_mu);
        c = &i.Resolve(key, o).CellsOf(std::this_thread::get_id());
      }
      if (local.cells.size() < kLocalMax) local.cells.emplace(key, c);
    }
    local.last = c;
    local.last_version = o.version;
    local.last_status = o.status;
    local.last_prompt.assign(o.prompt);
    local.last_model.assign(o.model);
  }
  Add(c->requests, 1);
  c->duration.Observe(kLatencyBounds, o.duration_seconds);
  if (o.ttft_seconds >= 0) c->ttft.Observe(kLatencyBounds, o.ttft_seconds);
  if (o.overhead_seconds >= 0) c->overhead.Observe(kOverheadBounds, o.overhead_seconds);
  if (o.input_tokens > 0) Add(c->input_tokens, static_cast<std::uint64_t>(o.input_tokens));
  if (o.output_tokens > 0) Add(c->output_tokens, static_cast<std::uint64_t>(o.output_tokens));
  if (o.cost_usd > 0) Add(c->cost, o.cost_usd);
  if (o.cache_consulted) Add(o.cache_hit ? c->cache_hits : c->cache_misses, 1);
}

std::vector<prometheus::MetricFamily> Metrics::Impl::CollectRequests() const {
  using Labels = std::vector<prometheus::ClientMetric::Label>;
  std::map<std::array<std::string, 4>, std::uint64_t> requests;  // model, prompt, status, version
  std::map<std::string, HistogramTotal<kLatencyBounds.size()>> duration, ttft;
  std::map<std::string, HistogramTotal<kOverheadBounds.size()>> overhead;
  std::map<std::string, std::array<std::uint64_t, 2>> tokens;  // input, output
  std::map<std::string, double> cost;
  std::uint64_t hits = 0, misses = 0;
  {
    std::lock_guard lock(request_mu);
    auto fold = [&](const RequestSet& s) {
      const std::string& m = s.model_label;
      for (const auto& c : s.cells) {
        auto get = [](const auto& cell) { return cell.load(std::memory_order_relaxed); };
        requests[{s.model, s.prompt, s.status, s.version}] += get(c->requests);
        duration[m].Add(c->duration);
        ttft[m].Add(c->ttft);
        overhead[m].Add(c->overhead);
        tokens[m][0] += get(c->input_tokens);
        tokens[m][1] += get(c->output_tokens);
        cost[m] += get(c->cost);
        hits += get(c->cache_hits);
        misses += get(c->cache_misses);
      }
    };
    for (const auto& [key, set] : sets) fold(*set);
    for (const auto& [label, set] : overflow) fold(*set);
  }
  // A series shows once it counted something (as prometheus-cpp's would, made at first use), a
  // family once it has a series.
  std::vector<prometheus::MetricFamily> out;
  auto family = [&out](std::string name, std::string help, prometheus::MetricType type) {
    out.push_back({std::move(name), std::move(help), type, {}});
    return &out.back().metric;
  };
  auto finish = [&out] {
    if (out.back().metric.empty()) out.pop_back();
  };
  auto counter = [](Labels labels, double value) {
    prometheus::ClientMetric m;
    m.label = std::move(labels);
    m.counter.value = value;
    return m;
  };
  auto* f = family("promptops_gateway_requests_total",
                   "Gateway requests by prompt, prompt version, model and HTTP status returned to "
                   "the client.",
                   prometheus::MetricType::Counter);
  for (const auto& [l, n] : requests) {
    if (n == 0) continue;
    f->push_back(counter({{"model", l[0]}, {"prompt", l[1]}, {"status", l[2]}, {"version", l[3]}},
                         static_cast<double>(n)));
  }
  finish();
  auto histograms = [&](const auto& totals, const auto& bounds) {
    for (const auto& [model, h] : totals) {
      if (h.Count() == 0) continue;
      f->push_back(h.Metric(bounds));
      f->back().label = {{"model", model}};
    }
    finish();
  };
  f = family("promptops_gateway_request_duration_seconds",
             "Gateway request duration, from request start to the last byte of the response.",
             prometheus::MetricType::Histogram);
  histograms(duration, kLatencyBounds);
  f = family("promptops_gateway_ttft_seconds",
             "Time to the first streamed token (streamed requests only).",
             prometheus::MetricType::Histogram);
  histograms(ttft, kLatencyBounds);
  f = family("promptops_gateway_overhead_seconds",
             "The gateway's own time per request answered by an upstream: the request duration "
             "minus the upstream exchanges (and the backoff between retries).",
             prometheus::MetricType::Histogram);
  histograms(overhead, kOverheadBounds);
  f = family("promptops_gateway_tokens_total", "Tokens by model and direction (input or output).",
             prometheus::MetricType::Counter);
  for (const auto& [model, n] : tokens) {
    if (n[0] > 0) f->push_back(counter({{"direction", "input"}, {"model", model}}, double(n[0])));
    if (n[1] > 0) f->push_back(counter({{"direction", "output"}, {"model", model}}, double(n[1])));
  }
  finish();
  f = family("promptops_gateway_cost_usd_total", "Estimated cost in US dollars.",
             prometheus::MetricType::Counter);
  for (const auto& [model, usd] : cost) {
    if (usd > 0) f->push_back(counter({{"model", model}}, usd));
  }
  finish();
  f = family("promptops_gateway_cache_total", "Response cache lookups by result.",
             prometheus::MetricType::Counter);
  if (hits > 0) f->push_back(counter({{"result", "hit"}}, static_cast<double>(hits)));
  if (misses > 0) f->push_back(counter({{"result", "miss"}}, static_cast<double>(misses)));
  finish();
  return out;
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

std::vector<prometheus::MetricFamily> Metrics::Impl::CollectAll() const {
  std::vector<prometheus::MetricFamily> all = CollectRequests();
  for (auto& f : registry->Collect()) all.push_back(std::move(f));
  return all;
}

std::string Metrics::Expose() const {
  prometheus::TextSerializer serializer;
  return serializer.Serialize(impl_->CollectAll());
}

double Metrics::Value(std::string_view name,
                      const std::map<std::string, std::string>& labels) const {
  for (const auto& family : impl_->CollectAll()) {
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
