// The gateway: the data plane's hot path behind POST /v1/chat/completions (streamed or not),
// GET /v1/models and POST /v1/embeddings, speaking OpenAI's wire format to clients and each
// provider's format upstream. docs/life_of_a_request.md follows one request through it.
//
// Per request: authenticate (in-memory key index) -> parse and validate -> admit against rate
// limits and budgets -> resolve the model, or the prompt reference (registry snapshot) and render
// it -> cache lookup -> call the upstream with retries, fallbacks and a circuit breaker ->
// stream or send the answer -> trace (bounded queue) and metrics. No step touches the database.
//
// Threads: handlers run as coroutines on the connection's strand; nothing blocks. Gateway is
// created once at start-up and outlives the server.
#pragma once

#include <memory>

#include "core/clock.h"
#include "core/error.h"
#include "gateway/config.h"
#include "gateway/limits.h"
#include "governance/api_keys.h"
#include "http/router.h"
#include "registry/registry.h"
#include "telemetry/telemetry.h"

namespace promptops::gateway {

struct GatewayDeps {
  registry::Registry& registry;
  governance::ApiKeys& keys;
  telemetry::Telemetry* telemetry = nullptr;  // traces and metrics; optional (tests)
  const Clock* clock = &Clock::Real();
};

class Gateway {
 public:
  // Builds the upstream clients and reads provider keys from their environment variables.
  // Errors: InvalidArgument for an inconsistent config; FailedPrecondition when a provider's
  // api_key_env names a variable that is not set.
  static Result<std::unique_ptr<Gateway>> Create(GatewayConfig config, GatewayDeps deps);
  ~Gateway();
  Gateway(const Gateway&) = delete;
  Gateway& operator=(const Gateway&) = delete;

  // Registers /v1/chat/completions, /v1/models, /v1/embeddings and GET /api/v1/usage.
  void AddRoutes(http::Router& router);

  const GatewayConfig& config() const;
  UsageLimiter& limiter();

  struct Impl;

 private:
  explicit Gateway(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Masks what looks like personal data or secrets in a body kept on a trace ("masked" mode):
// e-mail addresses, long digit runs (phone, card, account numbers) and key-like tokens.
std::string MaskForTrace(std::string_view text);

}  // namespace promptops::gateway
