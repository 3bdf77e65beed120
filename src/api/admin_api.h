// The admin REST API under /api/v1 (prompts, versions, labels, branches, diff, compat, render,
// changelog, keys) and the health endpoints. Documented endpoint by endpoint in docs/api.md.
#pragma once

#include "api/context.h"
#include "http/router.h"

namespace promptops::api {

// Registers /api/v1/... routes. Reads are served from the registry snapshot on the network
// threads; writes and history reads are registered as blocking routes.
void AddAdminRoutes(http::Router& router, ApiContext& ctx);
// Registers /healthz (liveness) and /readyz (readiness: ctx.ready).
void AddHealthRoutes(http::Router& router, ApiContext& ctx);

}  // namespace promptops::api
