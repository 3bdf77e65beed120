// Gateway configuration: upstream providers, the models clients may name (with fallbacks and
// prices), aliases, and the gateway's policies (cache, retries, circuit breaker, limits, what
// traces keep). Parsed from the `providers`, `models`, `aliases` and `gateway` sections of the
// config file (docs/gateway.md documents every field; promptops.example.yaml shows them).
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/error.h"
#include "providers/simulated.h"

namespace promptops::gateway {

struct ProviderConfig {
  std::string name;
  std::string type;         // openai | anthropic | simulated
  std::string base_url;     // openai/anthropic: e.g. https://api.openai.com/v1
  std::string api_key_env;  // name of the environment variable with the key ("" = no key)
  std::string ca_file;      // extra CA bundle for TLS (tests, private upstreams)
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds first_byte_timeout{60000};
  std::chrono::milliseconds total_timeout{600000};
  std::int64_t default_max_tokens = 1024;  // anthropic requires max_tokens
  providers::SimulatedConfig simulated;
};

struct Pricing {
  double input_per_1m = 0;   // USD per 1M input tokens
  double output_per_1m = 0;  // USD per 1M output tokens
  // Input tokens read from / written to the provider's prompt cache, when the upstream reports
  // them (Usage::cached_tokens, cache_write_tokens); none: input_per_1m.
  std::optional<double> cached_input_per_1m;
  std::optional<double> cache_write_per_1m;
};

struct ModelConfig {
  std::string name;                    // what clients send as "model"
  std::string provider;                // a ProviderConfig name
  std::string upstream_model;          // what the upstream is asked for (default: name)
  std::vector<std::string> fallbacks;  // other model names tried in order on retryable failures
  Pricing pricing;
};

struct LimitConfig {
  std::int64_t requests_per_minute = 0;  // 0 = unlimited
  std::int64_t tokens_per_day = 0;
  double cost_per_day_usd = 0;
};

struct GatewayPolicy {
  std::string trace_bodies = "masked";  // none | masked | full
  bool cache_enabled = true;
  std::chrono::seconds cache_ttl{300};
  std::size_t cache_max_bytes = 64 << 20;
  bool cache_only_temperature_zero = true;
  int max_retries = 2;
  std::chrono::milliseconds backoff_base{100};
  std::chrono::milliseconds backoff_max{2000};
  int breaker_failures = 5;  // consecutive failures that open an upstream's circuit
  std::chrono::milliseconds breaker_cooldown{30000};
  LimitConfig per_key;
  LimitConfig per_project;
  std::size_t max_request_bytes = 4 << 20;
};

struct GatewayConfig {
  std::map<std::string, ProviderConfig> providers;
  // Looked up by string_view (std::less<>): no string made per request.
  std::map<std::string, ModelConfig, std::less<>> models;
  std::map<std::string, std::string, std::less<>> aliases;  // alias -> model name
  GatewayPolicy policy;

  // The model config a client-facing name stands for (aliases resolved), or nullptr.
  const ModelConfig* Find(std::string_view name) const;
};

// Parses one top-level section ("providers", "models", "aliases", "gateway") into `c`.
// Unknown keys and wrong types are errors naming the path ("models.gpt-4o.pricing.input").
Status ParseGatewaySection(const std::string& section, const YAML::Node& node, GatewayConfig& c);
// Cross-checks: every model's provider exists, fallbacks and aliases name models, no alias
// shadows a model, no fallback cycle.
Status ValidateGatewayConfig(const GatewayConfig& c);
// Adds the simulated provider "simulated" and the model "demo-chat" (used by demo prompts) when
// they are not configured. `serve --demo` calls it.
void AddDemoModels(GatewayConfig& c);

}  // namespace promptops::gateway
