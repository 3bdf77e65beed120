// The traces and feedback API under /api/v1 and the Prometheus endpoint GET /metrics; a thin
// HTTP layer over telemetry::TraceService and telemetry::Metrics. Documented in
// docs/telemetry.md.
//
//   GET    /api/v1/traces                  list (filters, pagination), newest first
//   GET    /api/v1/traces/export           the same filters as JSON lines, bodies included
//   GET    /api/v1/traces/{id}             one trace with its bodies and feedback
//   DELETE /api/v1/traces?older_than_days=N   retention by request (admin) -> {"deleted":n}
//   POST   /api/v1/traces/{id}/feedback    {"value":"up"|"down"} or {"score":1..5} -> 201
//   GET    /api/v1/feedback/summary        feedback per prompt version and model
//   GET    /metrics                        Prometheus text format
#pragma once

#include <string>

#include "api/context.h"
#include "http/router.h"
#include "telemetry/telemetry.h"

namespace promptops::api {

struct TraceRoutesOptions {
  // GET /metrics is unauthenticated by default: Prometheus scrapers rarely hold API keys, and
  // the metrics carry only counts per prompt/model names (no prompt text, no user data, no
  // keys). Set a token to require "Authorization: Bearer <token>" on /metrics.
  std::string metrics_bearer_token;
};

// Registers the routes above. The /api/v1 routes are blocking routes (they read SQLite);
// /metrics runs on the network thread. `ctx` and `telemetry` must outlive the router.
void AddTraceRoutes(http::Router& router, ApiContext& ctx, telemetry::Telemetry& telemetry,
                    TraceRoutesOptions options = {});

}  // namespace promptops::api
