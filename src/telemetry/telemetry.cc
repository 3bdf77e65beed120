#include "telemetry/telemetry.h"

namespace promptops::telemetry {

Telemetry::Telemetry(store::Store& store, Clock& clock, TelemetryOptions options)
    : metrics_(options.metrics),
      writer_(store, options.writer, &metrics_),
      service_(store, clock, &writer_, &metrics_) {
  if (options.retention_days > 0) {
    retention_ = std::make_unique<Retention>(store, clock, options.retention_days,
                                             options.retention_interval);
  }
}

Telemetry::~Telemetry() { Stop(); }

void Telemetry::Start() {
  if (retention_) retention_->Start();
}

void Telemetry::Stop() {
  if (retention_) retention_->Stop();
  writer_.Stop();
}

RequestObservation ObservationFrom(const TraceRecord& r, bool cache_consulted) {
  RequestObservation o;
  o.prompt = r.prompt_name;
  o.version = r.prompt_version;
  o.model = r.model;
  o.status = r.status;
  o.duration_seconds = static_cast<double>(r.latency_us) / 1e6;
  o.ttft_seconds = r.ttft_us < 0 ? -1 : static_cast<double>(r.ttft_us) / 1e6;
  if (r.upstream_us >= 0) {
    o.overhead_seconds =
        static_cast<double>(std::max<std::int64_t>(r.latency_us - r.upstream_us, 0)) / 1e6;
  }
  o.input_tokens = r.input_tokens;
  o.output_tokens = r.output_tokens;
  o.cost_usd = r.cost_usd;
  o.cache_consulted = cache_consulted || r.cache_hit;
  o.cache_hit = r.cache_hit;
  return o;
}

bool Telemetry::RecordRequest(TraceRecord&& record, bool cache_consulted) {
  metrics_.ObserveRequest(ObservationFrom(record, cache_consulted));
  return writer_.Enqueue(std::move(record));
}

}  // namespace promptops::telemetry
