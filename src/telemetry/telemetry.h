// Telemetry: the composition of the telemetry module that the app owns — metrics, the trace
// writer, the trace service (queries, feedback) and retention — and the one call the gateway
// makes per finished request.
//
// Life cycle (app/serve.cc): construct after the store, Start() before serving, pass to
// AddTraceRoutes and to the gateway, Stop() after the server stopped (stores every queued
// trace). The destructor stops too.
//
// Threads: RecordRequest and metrics() are for the network threads (never block on I/O);
// service() is for blocking routes.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>

#include "core/clock.h"
#include "store/store.h"
#include "telemetry/metrics.h"
#include "telemetry/retention.h"
#include "telemetry/trace.h"
#include "telemetry/trace_service.h"
#include "telemetry/trace_writer.h"

namespace promptops::telemetry {

struct TelemetryOptions {
  TraceWriterOptions writer;
  MetricsOptions metrics;
  // Traces and feedback older than this many days are deleted; 0 keeps them forever.
  std::int64_t retention_days = 0;
  std::chrono::milliseconds retention_interval = std::chrono::hours(1);
};

class Telemetry {
 public:
  Telemetry(store::Store& store, Clock& clock, TelemetryOptions options = {});
  ~Telemetry();
  Telemetry(const Telemetry&) = delete;
  Telemetry& operator=(const Telemetry&) = delete;

  // Starts the retention thread (if retention_days > 0). The trace writer runs from
  // construction.
  void Start();
  // Stops retention, stores every queued trace and stops the writer. Idempotent.
  void Stop();

  // The gateway's per-request call: updates the request metrics from the record and queues it
  // for storage. Returns false if the trace was dropped (counted; see TraceWriter).
  bool RecordRequest(TraceRecord&& record, bool cache_consulted = false);

  Metrics& metrics() { return metrics_; }
  TraceWriter& writer() { return writer_; }
  TraceService& service() { return service_; }
  Retention* retention() { return retention_.get(); }  // null when retention_days == 0

 private:
  Metrics metrics_;
  TraceWriter writer_;
  TraceService service_;
  std::unique_ptr<Retention> retention_;
};

// The metrics view of a trace record (RecordRequest uses it).
RequestObservation ObservationFrom(const TraceRecord& r, bool cache_consulted);

}  // namespace promptops::telemetry
